"""Validators every layer may use (models included): this module imports nothing from the apps.

Single-line text (titles, names, labels) goes into e-mail subjects, CSV cells, audit object names
and page headings. A line break there silently breaks things far from the form: Django refuses to
send an e-mail whose subject holds one (the agreement expiry notice was lost that way), and a tab or
an escape character corrupts exports and terminals. So a single-line field refuses every C0 control
character (tab included), DEL, the C1 controls (NEL among them) and the Unicode line and paragraph
separators, with a message that names what to remove.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

_VISIBLE_BREAKS = {"\n", "\r"}  # what a browser shows (or strips) as a new line; the rest hide in the text
CONTROL_CHARACTERS = frozenset(
    [chr(code) for code in range(0x20)] + ["\x7f"] + [chr(code) for code in range(0x80, 0xA0)] + ["\u2028", "\u2029"]
)


def _describe(character: str) -> str:
    if character in _VISIBLE_BREAKS:
        return "the line break"
    if character == "\t":
        return "the tab"
    # A line separator or escape character shows as nothing: say where it hides and how to clear it.
    return f"the invisible character U+{ord(character):04X} (retype the text around it)"


def validate_single_line(value: str) -> None:
    """Refuse text holding a line break, a tab or any other control character."""
    if not isinstance(value, str):
        return
    for character in value:
        if character in CONTROL_CHARACTERS:
            raise ValidationError(
                "Keep this to one line of plain text: remove %(what)s.",
                code="single_line",
                params={"what": _describe(character)},
            )
