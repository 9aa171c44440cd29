"""`contains`, `starts_with` and `ends_with` against many values, in time linear in the text.

With a few values, C's search for each value in turn is fastest. With many values and a long
string that costs values x length, so past the break-even point the string is read once instead:
by an Aho-Corasick automaton of all the values (`contains`), or down a trie of them
(`starts_with` and `ends_with` on the elements of a list; on a string, C's prefix test already
costs at most the values' total length). Either way one test costs at most a constant times the
string's length plus a constant, whatever the number of values (spec section 3, "Cost").

The automaton and tries are built on first use, so that a snapshot that never meets a long
string pays nothing for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

__all__ = ["string_test"]

# `n in text` costs about 40 ns plus 0.25 ns per character; an automaton step about 30 ns per
# character plus 300 ns per call (CPython 3.11, x86-64). In quarter nanoseconds:
_SEARCH_CALL: Final = 160
_STEP: Final = 120
_AUTOMATON_CALL: Final = 1200
#: Up to this many values, search for each in turn: at most this many passes over the string.
_FEW: Final = 8
_END: Final = ""  # the trie key that marks the end of a value (every other key is one character)


class _Automaton:
    """Aho-Corasick over a set of non-empty needles: does a text contain any of them?"""

    __slots__ = ("fail", "goto", "hit")

    def __init__(self, needles: Iterable[str]) -> None:
        goto: list[dict[str, int]] = [{}]
        hit = [False]
        for needle in needles:
            state = 0
            for char in needle:
                nxt = goto[state].get(char)
                if nxt is None:
                    nxt = goto[state][char] = len(goto)
                    goto.append({})
                    hit.append(False)
                state = nxt
            hit[state] = True
        fail = [0] * len(goto)
        queue = list(goto[0].values())  # breadth first: a state's failure is known before it
        for state in queue:
            for char, nxt in goto[state].items():
                back = fail[state]
                while back and char not in goto[back]:
                    back = fail[back]
                target = goto[back].get(char, 0)
                fail[nxt] = target if target != nxt else 0
                hit[nxt] = hit[nxt] or hit[fail[nxt]]
                queue.append(nxt)
        self.goto, self.fail, self.hit = goto, fail, hit

    def search(self, text: str) -> bool:
        goto, fail, hit = self.goto, self.fail, self.hit
        state = 0
        for char in text:
            nxt = goto[state].get(char)
            while nxt is None and state:
                state = fail[state]
                nxt = goto[state].get(char)
            state = nxt or 0
            if hit[state]:
                return True
        return False


class _Contains:
    """Whether a string contains any of the values."""

    __slots__ = ("automaton", "empty", "needles")

    def __init__(self, values: list[str]) -> None:
        self.needles = tuple(dict.fromkeys(values))
        self.empty = "" in self.needles  # every string contains the empty string
        self.automaton: _Automaton | None = None

    def __call__(self, value: Any) -> bool:
        if type(value) is not str:
            return False
        needles = self.needles
        count, length = len(needles), len(value)
        if count <= _FEW or count * (length + _SEARCH_CALL) <= _STEP * length + _AUTOMATON_CALL:
            return any(needle in value for needle in needles)
        if self.empty:
            return True
        automaton = self.automaton
        if automaton is None:
            automaton = self.automaton = _Automaton(needles)
        return automaton.search(value)


class _Affixes:
    """Whether a string starts (or ends) with any of the values."""

    __slots__ = ("check", "reverse", "trie", "values")

    def __init__(self, values: list[str], check: Callable[[str, tuple[str, ...]], bool]) -> None:
        self.values = tuple(dict.fromkeys(values))
        self.check = check
        self.reverse = check is str.endswith
        self.trie: dict[str, Any] | None = None

    def __call__(self, value: Any) -> bool:
        if type(value) is not str:
            return False
        if len(self.values) <= _FEW:
            return self.check(value, self.values)
        node = self.trie
        if node is None:
            node = self.trie = _trie(self.values, reverse=self.reverse)
        for char in reversed(value) if self.reverse else value:
            if _END in node:
                return True
            node = node.get(char)
            if node is None:
                return False
        return _END in node


def _trie(values: Iterable[str], *, reverse: bool) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for value in values:
        node = root
        for char in reversed(value) if reverse else value:
            node = node.setdefault(char, {})
        node[_END] = True
    return root


def string_test(op: str, values: list[str]) -> Callable[[Any], bool]:
    """The test of `contains`, `starts_with` or `ends_with` for one value (a list's element)."""
    if op == "contains":
        return _Contains(values)
    return _Affixes(values, str.startswith if op == "starts_with" else str.endswith)
