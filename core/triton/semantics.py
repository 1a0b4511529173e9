"""fill_template.py's semantics per tag range (``core/data/fill_template_semantics.json``, verified from the
tags' sources) and the placeholders of every upstream template, by tag."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ..base.errors import WizardError
from ..facts.versions import try_parse_version

DATA_FILE = "fill_template_semantics.json"


# --------------------------------------------------------------------------------------------------
# data: semantics per tag range, placeholders per template
# --------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _data() -> dict:
    from ..data import load

    return load(DATA_FILE)


# what a tag may carry around a PEP 440 version: a ``trtllm-`` prefix and a ``-<git sha>`` suffix
_TAG_AFFIXES = re.compile(r"^(?:trtllm-)?(?P<version>.*?)(?:-[0-9a-f]{7,40})?$", re.IGNORECASE)


def placeholder_table() -> dict:
    """The ``${…}`` names of every upstream template: ``{model: {tag: [names]}}`` (from the data file)."""
    return _data()["placeholders"]


def parse_tag(tag: str) -> tuple[int, int, int]:
    """``v0.17.0.post1`` → ``(0, 17, 0)``; raises WizardError for anything else. The version inside the tag
    is read by :func:`versions.parse_version` (the one version parser)."""
    m = _TAG_AFFIXES.match((tag or "").strip())
    v = try_parse_version(m.group("version")) if m else None
    if v is None or v.epoch or not 2 <= len(v.release) <= 3:
        raise WizardError(f"unknown tag `{tag}`: not a release tag like v0.12.0, v0.17.0.post1 or v1.1.0rc6",
                          f"pass --tag with a release tag; known fill_template.py ranges: {known_ranges_text()}")
    r = v.release + (0,)
    return r[0], r[1], r[2]


def _version_tuple(s: str) -> tuple[int, ...]:
    return tuple(int(x) for x in s.split("."))


@dataclass(frozen=True)
class Semantics:
    """How one range of tags' ``fill_template.py`` behaves."""

    id: str
    label: str
    escaping: bool  # backslash escapes in the argument (v0.16+)
    defaults: tuple[tuple[str, str], ...]  # always substituted first (user keys override)
    assert_keys: bool  # the tool asserts each requested key occurs in the file (v0.19+)
    tag: str = ""  # the tag asked for

    @property
    def default_dict(self) -> dict[str, str]:
        return dict(self.defaults)


def _ranges() -> list[dict]:
    return _data()["ranges"]


def known_ranges_text() -> str:
    return "; ".join(r["label"] for r in _ranges())


def semantics_for(tag: str | None = None) -> Semantics:
    """The fill semantics of ``tag`` (``None``: the newest)."""
    ranges = _ranges()
    if tag is None or str(tag).strip() == "":
        chosen = ranges[-1]
        tag = "newest"
    else:
        ver = parse_tag(tag)
        chosen = None
        for r in ranges:
            lo = _version_tuple(r["from"])
            hi = _version_tuple(r["to"]) if r.get("to") else None
            if ver[: len(lo)] >= lo and (hi is None or ver[: len(hi)] < hi):
                chosen = r
                break
        if chosen is None:
            newest = ranges[-1].get("to")
            if newest and ver >= _version_tuple(newest) + (0,) * (3 - len(_version_tuple(newest))):
                raise WizardError(f"unknown tag `{tag}`: newer than any fill_template.py lmi-wizard knows "
                                  f"(newest: {ranges[-1]['label']})",
                                  "check the tag; if that release's tools/fill_template.py is unchanged, pass "
                                  "--tag of the newest known release (or leave --tag out)")
            raise WizardError(f"unknown tag `{tag}`: no fill_template.py is known for it",
                              f"known ranges: {known_ranges_text()}")
    return Semantics(
        id=chosen["id"], label=chosen["label"], escaping=bool(chosen["escaping"]),
        defaults=tuple((k, str(v)) for k, v in chosen["defaults"].items()),
        assert_keys=bool(chosen.get("assert_keys")), tag=str(tag),
    )
