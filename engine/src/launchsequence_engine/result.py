"""What an evaluation answers: value, variation, reason, error code and the matched rule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["ErrorCode", "EvaluationResult", "Reason"]


class Reason:
    """OpenFeature's resolution reasons, the only ones the engine gives."""

    STATIC: Final = "STATIC"
    DISABLED: Final = "DISABLED"
    TARGETING_MATCH: Final = "TARGETING_MATCH"
    SPLIT: Final = "SPLIT"
    DEFAULT: Final = "DEFAULT"
    ERROR: Final = "ERROR"


class ErrorCode:
    """OpenFeature's error codes, set exactly when the reason is ERROR."""

    FLAG_NOT_FOUND: Final = "FLAG_NOT_FOUND"
    TYPE_MISMATCH: Final = "TYPE_MISMATCH"
    PARSE_ERROR: Final = "PARSE_ERROR"
    TARGETING_KEY_MISSING: Final = "TARGETING_KEY_MISSING"
    INVALID_CONTEXT: Final = "INVALID_CONTEXT"
    GENERAL: Final = "GENERAL"


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    """One flag evaluated for one context.

    On an error, `value` is the caller's default and `variation` and `variant` are None. A flag
    whose off variation or fallthrough is unset also answers the caller's default, with reason
    DISABLED or DEFAULT and `variation` None: `variation` None always means "no value of the
    flag's". `rule_id` and `rule_index` are set when a rule matched (with reason TARGETING_MATCH,
    or SPLIT when the rule served a rollout); `prerequisite` names the prerequisite that failed
    when the flag served its off result because of it. `metadata` is the flag's own metadata
    (absent for a flag that does not exist). Results are shared and immutable: never mutate one.

    Results compare and hash by value, as a frozen dataclass does (one whose value or metadata
    is a JSON object or array cannot be hashed). Code that means "this very result" (the
    Python SDK's usage counters) keys by `id()` and keeps the result alive beside the key.
    """

    key: str
    value: Any
    variation: int | None
    variant: str | None
    reason: str
    error_code: str | None = None
    error_message: str | None = None
    rule_id: str | None = None
    rule_index: int | None = None
    prerequisite: str | None = None
    metadata: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The result as the JSON object of `spec/schemas/result.schema.json`."""
        out: dict[str, Any] = {
            "key": self.key,
            "value": self.value,
            "variation": self.variation,
            "variant": self.variant,
            "reason": self.reason,
        }
        if self.error_code is not None:
            out["error_code"] = self.error_code
            if self.error_message is not None:
                out["error_message"] = self.error_message
        if self.rule_id is not None:
            out["rule_id"] = self.rule_id
            out["rule_index"] = self.rule_index
        if self.prerequisite is not None:
            out["prerequisite"] = self.prerequisite
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        return out
