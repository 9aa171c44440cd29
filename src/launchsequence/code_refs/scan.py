"""Finding flag keys in source text.

A reference is a string literal whose whole content is one of the project's flag keys
(exact: `"beta"` is not a reference to `beta-2`, nor `"beta-2"` one to `beta`), of one kind:

- `call`: the first argument of an SDK or OpenFeature call, in Python (`bool_value`,
  `details`, `get_boolean_value`, ...) or JavaScript/TypeScript (`value`, `useFlag`,
  `getBooleanValue`, ...), also when the call spans lines or names the argument (`key=`);
- `comment`: inside a comment (`#`, `//`, `/* */`, by the file's language). Reported, so
  that a cleanup finds a stale mention too, and marked so that nobody takes it for code;
- `string`: anywhere else, and in every other language (a constant, a configuration file).

A key computed at run time (a Python f-string, a JavaScript template literal with `${}`, a
concatenation) cannot be resolved: such calls are not references; `scan_text` returns them
separately, and the command lists them, so that nobody mistakes "no references" for "unused".
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

__all__ = ["CONTEXT_LINES", "Ref", "language_of", "scan_text"]

CONTEXT_LINES = 2  # on each side of the reference's line
CONTEXT_LINE_CHARS = 240

PYTHON_CALLS = [
    "bool_value",
    "string_value",
    "number_value",
    "json_value",
    "bool_details",
    "string_details",
    "number_details",
    "json_details",
    "details",
    "variation",
    "get_boolean_value",
    "get_string_value",
    "get_integer_value",
    "get_float_value",
    "get_object_value",
    "get_boolean_details",
    "get_string_details",
    "get_integer_details",
    "get_float_details",
    "get_object_details",
]
JS_CALLS = [
    "value",
    "details",
    "variation",
    "useFlag",
    "useFlagDetail",
    "boolValue",
    "stringValue",
    "numberValue",
    "getBooleanValue",
    "getStringValue",
    "getNumberValue",
    "getObjectValue",
    "getBooleanDetails",
    "getStringDetails",
    "getNumberDetails",
    "getObjectDetails",
    "useBooleanFlagValue",
    "useStringFlagValue",
    "useNumberFlagValue",
    "useObjectFlagValue",
    "useBooleanFlagDetails",
    "useStringFlagDetails",
    "useNumberFlagDetails",
    "useObjectFlagDetails",
    "useFlagValue",
]

_PY = [".py", ".pyi"]
_JS = [".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts", ".vue", ".svelte"]
_SLASH = ".go .java .kt .kts .swift .rs .c .h .cc .cpp .hpp .cs .php .scala .dart .groovy"
_HASH = ".rb .sh .bash .zsh .yml .yaml .toml .r .pl .ex .exs .cfg .conf .tf .ps1"


@dataclass(frozen=True)
class Language:
    name: str
    line_comments: tuple[str, ...]
    block_comments: bool
    quotes: str
    triple_quotes: bool
    calls: tuple[str, ...]


PYTHON = Language("python", ("#",), False, "'\"", True, tuple(PYTHON_CALLS))
JAVASCRIPT = Language("javascript", ("//",), True, "'\"`", False, tuple(JS_CALLS))
C_LIKE = Language("c-like", ("//",), True, "'\"`", False, ())
HASH_COMMENTS = Language("hash", ("#",), False, "'\"", False, ())
PLAIN = Language("plain", (), False, "", False, ())

_BY_SUFFIX = {
    **dict.fromkeys(_PY, PYTHON),
    **dict.fromkeys(_JS, JAVASCRIPT),
    **dict.fromkeys(_SLASH.split(), C_LIKE),
    **dict.fromkeys(_HASH.split(), HASH_COMMENTS),
}


def language_of(path: str) -> Language:
    name = path.rsplit("/", 1)[-1]
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    return _BY_SUFFIX.get(suffix, PLAIN)


@dataclass(frozen=True)
class Ref:
    flag: str
    path: str
    line: int
    kind: str  # call | string | comment
    context_start: int
    context: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "flag": self.flag,
            "path": self.path,
            "line": self.line,
            "kind": self.kind,
            "context": {"start": self.context_start, "lines": list(self.context)},
        }


_LITERAL = re.compile(r"""(["'`])([a-z0-9][a-z0-9._-]{0,63})\1""")
_KEYWORD_ARG = r"(?:(?:flag_key|flagKey|key)\s*=\s*)?"


def _call_before(names: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(names) + r")\s*\(\s*" + _KEYWORD_ARG + r"\Z")


def _dynamic_call(lang: Language) -> re.Pattern[str] | None:
    if not lang.calls:
        return None
    head = r"\b(?:" + "|".join(lang.calls) + r")\s*\(\s*" + _KEYWORD_ARG
    if lang is PYTHON:  # an f-string, or a literal followed by + or %: built at run time
        arg = r"""(?:[rRbB]?[fF][rR]?["']|["'][^"'\n]*["']\s*[+%])"""
    else:  # a template literal with a placeholder, or a literal followed by +
        arg = r"""(?:`[^`]*\$\{|["'][^"'\n]*["']\s*\+)"""
    return re.compile(head + arg)


_CALLS_BEFORE = {lang.name: _call_before(lang.calls) for lang in (PYTHON, JAVASCRIPT)}
_DYNAMIC = {lang.name: _dynamic_call(lang) for lang in (PYTHON, JAVASCRIPT)}


def _comment_spans(text: str, lang: Language) -> list[tuple[int, int]]:
    """(start, end) of every comment, skipping over string literals (so that `"#1"` or
    `"http://..."` opens none). A small lexer: regular expression literals in JavaScript
    are taken as code, which at worst misreads a line."""
    if not lang.line_comments and not lang.block_comments:
        return []
    marks = set(lang.quotes) | {m[0] for m in lang.line_comments}
    if lang.block_comments:
        marks.add("/")
    pattern = re.compile("[" + re.escape("".join(sorted(marks))) + "]")  # re caches it
    spans: list[tuple[int, int]] = []
    i, n = 0, len(text)
    while True:
        found = pattern.search(text, i)
        if found is None:
            return spans
        i = found.start()
        c = text[i]
        if c in lang.quotes:
            if lang.triple_quotes and text.startswith(c * 3, i):
                end = text.find(c * 3, i + 3)
                i = n if end < 0 else end + 3
                continue
            j = i + 1
            while j < n and text[j] != c and (text[j] != "\n" or c == "`"):
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if lang.block_comments and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            spans.append((i, end))
            i = end
            continue
        if any(text.startswith(m, i) for m in lang.line_comments):
            end = text.find("\n", i)
            end = n if end < 0 else end
            spans.append((i, end))
            i = end
            continue
        i += 1


def _inside(spans: list[tuple[int, int]], starts: list[int], offset: int) -> bool:
    k = bisect.bisect_right(starts, offset) - 1
    return k >= 0 and spans[k][0] <= offset < spans[k][1]


def scan_text(path: str, text: str, keys: frozenset[str]) -> tuple[list[Ref], list[int]]:
    """(the references to `keys` in one file, the lines of SDK calls whose key is computed
    at run time). One reference per (flag, line)."""
    lang = language_of(path)
    lines = text.splitlines()
    line_starts = [0]
    for m in re.finditer("\n", text):
        line_starts.append(m.end())

    def line_of(offset: int) -> int:
        return bisect.bisect_right(line_starts, offset)

    spans = _comment_spans(text, lang)
    span_starts = [s for s, _ in spans]
    calls = _CALLS_BEFORE.get(lang.name)
    refs: dict[tuple[str, int], Ref] = {}
    for m in _LITERAL.finditer(text):
        key = m.group(2)
        if key not in keys:
            continue
        if m.group(1) == "`" and lang is not JAVASCRIPT and lang is not PLAIN:
            continue  # a backtick is a string only in JavaScript (and prose)
        line = line_of(m.start())
        if (key, line) in refs:
            continue
        if _inside(spans, span_starts, m.start()):
            kind = "comment"
        elif calls is not None and calls.search(text[max(0, m.start() - 160) : m.start()]):
            kind = "call"
        else:
            kind = "string"
        first = max(1, line - CONTEXT_LINES)
        last = min(len(lines), line + CONTEXT_LINES)
        context = tuple(x[:CONTEXT_LINE_CHARS] for x in lines[first - 1 : last])
        refs[key, line] = Ref(key, path, line, kind, first, context)
    dynamic_pattern = _DYNAMIC.get(lang.name)
    dynamic = []
    if dynamic_pattern is not None:
        for m in dynamic_pattern.finditer(text):
            if not _inside(spans, span_starts, m.start()):
                dynamic.append(line_of(m.start()))
    return sorted(refs.values(), key=lambda r: (r.line, r.flag)), dynamic
