"""Reading a page's forms as a browser would submit them, and the error shown beside a field.

Tests fill the fields a page really has, so a renamed or missing field fails the test instead of
being posted blindly.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

__all__ = ["Form", "field_error", "form_fields", "page_forms"]

_TEXT_INPUTS = {
    "", "text", "hidden", "email", "password", "number", "search", "url", "datetime-local",
}  # fmt: skip


@dataclass
class Form:
    """A form as a browser sees it: where it goes, how, the controls it sends whatever button
    is pressed, and its named buttons (each adds its own name and value)."""

    action: str
    method: str
    fields: list[tuple[str, str]]
    buttons: list[tuple[str, str]] = field(default_factory=list)


class _Forms(HTMLParser):
    """Every form's successful controls (name, value), in document order; buttons apart."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[dict[str, str], list[tuple[str, str]]]] = []
        self.buttons: list[list[tuple[str, str]]] = []
        self._fields: list[tuple[str, str]] | None = None
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []
        self._option: dict[str, str | None] | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._fields = []
            self.forms.append((a, self._fields))
            self.buttons.append([])
        if self._fields is None or "disabled" in a:
            return
        name = a.get("name", "")
        if name and (tag == "button" or (tag == "input" and a.get("type") == "submit")):
            self.buttons[-1].append((name, a.get("value", "")))
        if tag == "input" and name:
            kind = a.get("type", "").lower()
            if kind in _TEXT_INPUTS:
                self._fields.append((name, a.get("value", "")))
            elif kind in ("checkbox", "radio") and "checked" in a:
                self._fields.append((name, a.get("value", "on")))
        elif tag == "select":
            self._select, self._options = name, []
        elif tag == "option" and self._select is not None:
            self._option = {"value": a.get("value") if "value" in a else None}
            self._options.append(("", "selected" in a))
            self._text = ""
        elif tag == "textarea":
            self._textarea, self._text = name, ""

    def handle_data(self, data: str) -> None:
        self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "option" and self._option is not None:
            value = self._option["value"]
            self._options[-1] = (value if value is not None else self._text, self._options[-1][1])
            self._option = None
        elif tag == "select" and self._select is not None and self._fields is not None:
            chosen = [v for v, selected in self._options if selected] or [
                v for v, _ in self._options[:1]
            ]
            if self._select and chosen:
                self._fields.append((self._select, chosen[0]))
            self._select = None
        elif tag == "textarea" and self._textarea is not None and self._fields is not None:
            if self._textarea:
                self._fields.append((self._textarea, self._text.removeprefix("\n")))
            self._textarea = None
        elif tag == "form":
            self._fields = None


def form_fields(page: str, having: str) -> dict[str, str]:
    """The fields a browser would send from the first POST form of `page` that has a field
    named `having`. Names are unique in the forms tested here."""
    parser = _Forms()
    parser.feed(page)
    for attrs, fields in parser.forms:
        if attrs.get("method", "get").lower() == "post" and any(n == having for n, _ in fields):
            return dict(fields)
    raise AssertionError(f"no form with a field {having!r} in the page")


def page_forms(page: str) -> list[Form]:
    """Every form of `page`, in document order."""
    parser = _Forms()
    parser.feed(page)
    return [
        Form(attrs.get("action", ""), attrs.get("method", "get").lower(),
             fields, buttons)
        for (attrs, fields), buttons in zip(parser.forms, parser.buttons, strict=True)
    ]  # fmt: skip


def field_error(page: str, name: str) -> str | None:
    """The error shown right after the control of the field `name`, where its user looks (an
    input, a select with its options, or a textarea with what was typed); None if none is."""
    n = re.escape(name)
    control = rf'name="{n}"[^>]*>(?:[^<]*</textarea>|(?:\s|<option[^>]*>[^<]*</option>)*</select>)?'
    m = re.search(rf'{control}\s*<p class="field-error" id="{n}-error">([^<]*)</p>', page)
    return html.unescape(m.group(1)) if m else None
