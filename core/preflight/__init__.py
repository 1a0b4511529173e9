"""Preflight (``lmi-wizard check``): a model repository anyone produced, local or in S3, checked before an
endpoint is spent on it. The public API of ``lmi_wizard.core.preflight``:

- :func:`check_target` / :func:`check_dir` (:mod:`.run`) → :class:`CheckReport` (:mod:`.report`);
- :func:`render_human` (:mod:`.render`) — the report for a person.

Where a new check goes: the layout rules → :mod:`..layout` (applied by :mod:`.structure`); the engine,
its version and GPU → :mod:`.engine`; ``config.pbtxt`` / tokenizer / ``serving.properties`` →
:mod:`.model_files`; S3 listing and the small-file mirror → :mod:`.mirror`.
"""

from .render import render_human
from .report import GROUP_TITLES, GROUPS, SEVERITIES, CheckReport
from .run import check_dir, check_target
from .structure import infer_layout
from .mirror import mirror_s3

__all__ = ["CheckReport", "GROUPS", "GROUP_TITLES", "SEVERITIES", "check_dir", "check_target", "infer_layout",
           "mirror_s3", "render_human"]
