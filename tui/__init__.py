"""Textual and questionary front ends. They call lmi_wizard.core; core never imports them."""
