"""Console-script entry point: verbs go to lmi_wizard.tui.cli.main; no verb starts a front end.

Kept free of heavy imports: Textual and questionary are imported only when a front end starts.
"""

from __future__ import annotations

import sys
from typing import Sequence



def start_front_end(args) -> int:
    from lmi_wizard.core.base.errors import WizardError

    try:
        if getattr(args, "plain", False):
            from lmi_wizard.tui.plain import main as run_front_end
        else:
            from lmi_wizard.tui.app import main as run_front_end
    except ImportError as exc:  # only when installed without the front-end deps
        raise WizardError(f"the interactive wizard cannot start: {exc}",
                          "reinstall with `pip install lmi-wizard` (textual and questionary are required)") from None
    return int(run_front_end(args) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    try:  # imports inside: a Ctrl-C while they load is an interrupt, not a traceback
        from lmi_wizard.tui.cli import main as cli

        return cli.main(argv, front_end=start_front_end)
    except KeyboardInterrupt:
        print("lmi-wizard: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
