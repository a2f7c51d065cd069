"""The encounter form as a supporter fills it, for the web benchmark's clients (locust, wrk's plan,
the in-process profile). Not a benchmark of its own; it imports nothing of locust (which patches the
standard library on import), so the benchmark's Django processes can use it too."""

from __future__ import annotations

from html.parser import HTMLParser

NOTE = "Synthetic load-test note: checked in after a long shift, follow-up agreed."


class EncounterFormFiller(HTMLParser):
    """The values a person would submit: what the form holds, and the first choice of every group
    left empty. Single checkboxes (the escalation flag) stay unticked."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, list[str]] = {}
        self.choices: dict[str, list[tuple[str, bool]]] = {}
        self.kinds: dict[str, str] = {}
        self.select: str | None = None
        self.textarea: str | None = None

    @classmethod
    def fill(cls, html: str) -> dict[str, list[str] | str]:
        parser = cls()
        parser.feed(html)
        data: dict[str, list[str] | str] = {name: values for name, values in parser.values.items()}
        for name, options in parser.choices.items():
            checked = [value for value, on in options if on]
            if checked:
                data[name] = checked
            elif parser.kinds[name] == "radio" or (parser.kinds[name] == "select") or len(options) > 1:
                data[name] = [options[0][0]]
        return data

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attr = dict(attrs)
        name = attr.get("name")
        if tag == "input" and name:
            kind = attr.get("type", "text")
            if kind in ("radio", "checkbox"):
                self.kinds[name] = kind
                self.choices.setdefault(name, []).append((attr.get("value", "on"), "checked" in attr))
            elif kind not in ("submit", "button"):
                self.values[name] = [attr.get("value") or ""]
        elif tag == "select" and name:
            self.select = name
            self.kinds[name] = "select"
            self.choices[name] = []
        elif tag == "option" and self.select:
            self.choices[self.select].append((attr.get("value", ""), "selected" in attr))
        elif tag == "textarea" and name:
            self.values[name] = [NOTE]

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self.select = None
