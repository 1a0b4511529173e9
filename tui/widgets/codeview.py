"""A read-only code preview (shell script, recipe) whose long lines never look like separate commands.

The text is highlighted once; a line longer than the view is folded at the view's width and every
continuation row starts with a dim ``↪`` marker (no word wrap of its own: the widget never wraps again).
Refolded when the width changes. Copying goes through the text itself (``CodeView.text``), never the
folded rows.
"""

from __future__ import annotations

from textual.content import Content
from textual.highlight import highlight
from textual.widgets import Static

MARKER = "↪ "


def fold_lines(content: Content, width: int, marker: str = MARKER) -> Content:
    """``content`` with each line longer than ``width`` folded; continuation rows start with ``marker``."""
    width = max(len(marker) + 4, width)
    rows: list[Content] = []
    mark = Content.styled(marker, "dim")
    for line in content.split("\n", allow_blank=True):
        if line.cell_length <= width:
            rows.append(line)
            continue
        head, *rest = line.fold(width)
        rows.append(head)
        tail = Content("").join(rest)
        for piece in tail.fold(width - len(marker)):
            rows.append(mark + piece)
    return Content("\n").join(rows)


class CodeView(Static):
    """``Static`` for code: highlighted, folded with a continuation marker, refolded on resize."""

    DEFAULT_CSS = """
    CodeView {
        text-wrap: nowrap;
        text-overflow: clip;
    }
    """

    def __init__(self, text: str = "", *, language: str = "bash", id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes)
        self.language = language
        self.text = ""
        self._highlighted = Content("")
        self._folded_at = -1
        if text:
            self.set_text(text)

    def set_text(self, text: str) -> None:
        self.text = text
        self._highlighted = highlight(text.rstrip("\n"), language=self.language)
        self._folded_at = -1
        self._refold()

    def _refold(self) -> None:
        width = self.content_region.width if self.is_mounted else 0
        if width <= 0:
            width = 78
        if width == self._folded_at:
            return
        self._folded_at = width
        self.clear_cached_dimensions()  # the height is cached per width: the same width, more rows now
        self.update(fold_lines(self._highlighted, width))

    def on_resize(self) -> None:
        # a layout requested while the resize is being handled is dropped: refold right after it
        self.call_after_refresh(self._refold)
