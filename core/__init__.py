"""lmi-wizard core: all logic, no front-end imports (textual/questionary live in lmi_wizard.tui)."""

__version__ = "0.1.0"
