"""Test data: flags built in code, served by an offline client through the real engine.

```python
td = TestData()
td.set("checkout-copy", "Buy now")
td.update(td.flag("new-checkout").boolean().fallthrough(False).variation_for_key("user-1", True))
client = Client.for_test_data(td)
```

A mistake in what is built (no variations, a rule without values, not a builder) raises
`ConfigurationError` at the call that makes it, as a constructor does for a bad option, and
changes nothing: the clients serving the test data never raise and keep the previous flags.
"""

from __future__ import annotations

import threading
from typing import Any

import launchsequence_engine as engine

from .errors import ConfigurationError
from .store import FlagStore

__all__ = ["FlagBuilder", "TestData"]


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float):
        return "number"
    return "json"


class FlagBuilder:
    """One flag's snapshot document, built step by step; `TestData.update` publishes it."""

    def __init__(self, key: str) -> None:
        self.key = key
        self._type: str | None = None
        self._variations: list[Any] = []
        self._on = True
        self._off: Any = None
        self._fallthrough: Any = None
        self._targets: dict[str, Any] = {}
        self._rules: list[tuple[str, list[Any], Any]] = []
        self._client_side = False

    def boolean(self) -> FlagBuilder:
        """A boolean flag: variations true and false, on, serving true, false when off."""
        self._type, self._variations = "boolean", [True, False]
        self._fallthrough, self._off = True, False
        return self

    def variations(self, *values: Any) -> FlagBuilder:
        """The flag's variations; its type is the first one's. Serves the first; off, the last."""
        if not values:
            raise ConfigurationError("variations() needs at least one value")
        self._type, self._variations = _type_of(values[0]), list(values)
        self._fallthrough, self._off = values[0], values[-1]
        return self

    def on(self, on: bool) -> FlagBuilder:
        self._on = on
        return self

    def fallthrough(self, value: Any) -> FlagBuilder:
        """What a context matched by no target and no rule gets."""
        self._fallthrough = self._add(value)
        return self

    def off_value(self, value: Any) -> FlagBuilder:
        self._off = self._add(value)
        return self

    def value_for_all(self, value: Any) -> FlagBuilder:
        """Serve `value` to everyone (the flag on, no targets, no rules)."""
        self._targets.clear()
        self._rules.clear()
        self._on = True
        return self.fallthrough(value)

    def variation_for_key(self, context_key: str, value: Any) -> FlagBuilder:
        """Serve `value` to the context with this key (an individual target)."""
        self._targets[context_key] = self._add(value)
        return self

    def if_match(self, attribute: str, *values: Any) -> _RuleBuilder:
        """A rule: contexts whose `attribute` is one of `values` get what `.then(value)` says."""
        return _RuleBuilder(self, attribute, list(values))

    def client_side(self, visible: bool = True) -> FlagBuilder:
        self._client_side = visible
        return self

    def _add(self, value: Any) -> Any:
        if self._type is None:
            self._type = _type_of(value)
        if value not in self._variations:
            self._variations.append(value)
        return value

    def build(self, version: int) -> dict[str, Any]:
        """The flag's snapshot document (`spec/evaluation.md`)."""
        if self._type is None:
            self.boolean()
        if self._fallthrough is None:
            self._fallthrough = self._variations[0]
        if self._off is None:
            self._off = self._fallthrough
        for value in (self._fallthrough, self._off):
            self._add(value)
        index = self._variations.index
        by_variation: dict[int, list[str]] = {}
        for context_key, value in self._targets.items():
            by_variation.setdefault(index(value), []).append(context_key)
        return {
            "key": self.key,
            "type": self._type,
            "variations": [{"value": v} for v in self._variations],
            "version": version,
            "on": self._on,
            "client_side": self._client_side,
            "off_variation": index(self._off),
            "targets": [{"variation": i, "values": keys} for i, keys in by_variation.items()],
            "rules": [
                {
                    "id": f"rule-{n}",
                    "clauses": [{"attribute": a, "op": "in", "values": vs}],
                    "serve": {"variation": index(value)},
                }
                for n, (a, vs, value) in enumerate(self._rules)
            ],
            "fallthrough": {"variation": index(self._fallthrough)},
        }


class _RuleBuilder:
    def __init__(self, flag: FlagBuilder, attribute: str, values: list[Any]) -> None:
        self._flag, self._attribute, self._values = flag, attribute, values

    def then(self, value: Any) -> FlagBuilder:
        flag = self._flag
        flag._rules.append((self._attribute, self._values, flag._add(value)))
        return flag


class TestData:
    """Flags for tests of your own code: each `update`, `set` or `delete` is a new snapshot
    version, applied at once to every client made with `Client.for_test_data(self)`."""

    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        self._flags: dict[str, dict[str, Any]] = {}
        self._version = 0
        self._stores: list[FlagStore] = []
        self._lock = threading.RLock()

    def flag(self, key: str) -> FlagBuilder:
        """A new builder for flag `key` (publish it with `update`)."""
        return FlagBuilder(key)

    def update(self, builder: FlagBuilder) -> TestData:
        """Publish the flag `builder` makes; ConfigurationError when it is not a valid flag."""
        if not isinstance(builder, FlagBuilder):
            raise ConfigurationError("update() needs a FlagBuilder, from td.flag(key)")
        if not isinstance(builder.key, str):
            raise ConfigurationError(f"a flag key is a string, not {builder.key!r}")
        with self._lock:
            version = self._version + 1
            document = builder.build(version)
            single = {"schema_version": 1, "version": version, "flags": {builder.key: document}}
            try:  # strictly, as the server checks a flag before storing it
                engine.compile(single, strict=True)
            except engine.EngineError as exc:
                raise ConfigurationError(f"test data: {exc}") from exc
            self._version = version
            self._flags[builder.key] = document
            self._publish()
        return self

    def set(self, key: str, value: Any) -> TestData:
        """Flag `key` serves `value` to every context (its type follows the value's)."""
        return self.update(FlagBuilder(key).value_for_all(value))

    def delete(self, key: str) -> TestData:
        with self._lock:
            self._version += 1
            self._flags.pop(key, None)
            self._publish()
        return self

    def snapshot(self) -> dict[str, Any]:
        """The whole snapshot document, as the server would send it."""
        return {"schema_version": 1, "project": "test", "environment": "test",
                "version": self._version, "flags": dict(self._flags), "segments": {}}  # fmt: skip

    def attach(self, store: FlagStore) -> None:
        with self._lock:
            self._stores.append(store)
            store.replace(self.snapshot(), "test")

    def _publish(self) -> None:
        document = self.snapshot()
        for store in self._stores:
            store.replace(document, "test")
