"""Log-in throttling that slows an attacker without locking the account's owner out.

Failed log-ins are counted over a window (`login_window_seconds`), three ways:

- per email and client address (`login_failures_per_client`): past it, that address is
  refused for that email, right password or not, until its oldest failure leaves the window.
  One attacker guessing one account stops here, and nobody else is concerned.
- per client address across emails (`login_failures_per_address`): password spraying.
- per email across addresses (`login_failures_per_account`): only a slowdown, and only when the
  failures come from more than one address (from one, the per-client limit already holds it):
  each attempt must come some seconds after the email's last failure, twice as long for every
  failure past the limit, up to `login_slowdown_max_seconds`. Many addresses guessing one
  account get a few guesses a minute; the owner waits at most that long, never the window.

An attempt is counted when it is let through, before the password is checked, so that a burst
of concurrent attempts cannot all pass the check first; a success takes its own count back and
clears the failures of its email from its address. The client address is the one the ASGI
server reports: behind a proxy listed in `trusted_proxies`, the one it forwarded.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..secrets import digest
from ..store import accounts as store
from .errors import Throttled
from .runtime import Runtime

__all__ = ["Attempt", "LoginThrottle", "wait_text"]

_FORGET_AFTER_MS = 60_000  # failures are deleted this long after they leave the window


@dataclass(frozen=True, slots=True)
class Attempt:
    """A log-in attempt let through: the failure rows counted for it in advance."""

    pair: str
    row_ids: tuple[int, ...]


def wait_text(seconds: int) -> str:
    """'try again in 45 seconds' / '... in 3 minutes': for people, not programs."""
    if seconds < 120:
        return f"try again in {seconds} second{'s' if seconds != 1 else ''}"
    return f"try again in {(seconds + 59) // 60} minutes"


class LoginThrottle:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def admit(self, email_key: str, address: str) -> Attempt:
        """Count an attempt on `email_key` (normalized) from `address`, or raise Throttled with
        the seconds to wait (at least 1)."""
        s = self.rt.settings
        now = self.rt.now()
        window = s.login_window_seconds * 1000
        since = now - window
        email_prefix = digest(email_key)[:32]
        pair = email_prefix + digest(address)[:32]
        address_subject = digest(address)
        wait_ms = 0
        with self.rt.write_db.begin() as conn:
            count, oldest = store.count_failures(conn, scope="pair", subject=pair, since=since)
            if count >= s.login_failures_per_client:
                wait_ms = max(wait_ms, oldest + window - now)
            count, oldest = store.count_failures(
                conn, scope="address", subject=address_subject, since=since
            )
            if count >= s.login_failures_per_address:
                wait_ms = max(wait_ms, oldest + window - now)
            count, addresses, last = store.failures_by_prefix(
                conn, scope="pair", prefix=email_prefix, since=since
            )
            if count >= s.login_failures_per_account and addresses > 1:
                excess = min(count - s.login_failures_per_account, 30)
                step = min(2**excess, s.login_slowdown_max_seconds) * 1000
                wait_ms = max(wait_ms, last + step - now)
            if wait_ms > 0:
                seconds = max(1, (wait_ms + 999) // 1000)
                raise Throttled(f"too many failed log-ins; {wait_text(seconds)}",
                                retry_after=seconds)  # fmt: skip
            ids = (
                store.record_failure(conn, scope="pair", subject=pair, at=now),
                store.record_failure(conn, scope="address", subject=address_subject, at=now),
            )
            store.forget_failures(conn, older_than=since - _FORGET_AFTER_MS)
        return Attempt(pair, ids)

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: this attempt was no failure, and the earlier failures of
        this email from this address (the owner's typos) are forgiven."""
        with self.rt.write_db.begin() as conn:
            store.delete_failures(conn, ids=attempt.row_ids)
            store.clear_failures(conn, scope="pair", subject=attempt.pair)
