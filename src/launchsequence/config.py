"""Settings: one table (name, default, help) drives the CLI, the environment and the docs.

Every setting `name` is read from the environment variable `LAUNCHSEQ_<NAME>` and may be
overridden by the CLI option `--<name-with-dashes>` where `launchseq serve` offers one.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .cpus import cpu_budget

__all__ = [
    "SETTINGS",
    "SMTP_TLS_MODES",
    "Setting",
    "Settings",
    "load_settings",
    "reference_markdown",
]


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str

    @property
    def env(self) -> str:
        return f"LAUNCHSEQ_{self.name.upper()}"


SETTINGS: tuple[Setting, ...] = (
    Setting("host", "127.0.0.1", "Address to listen on."),
    Setting("port", 8080, "Port to listen on."),
    Setting("data_dir", "./data", "Directory for the SQLite database and the generated secret."),
    Setting(
        "database_url",
        "",
        "SQLAlchemy URL of the database; empty means SQLite at DATA_DIR/launchsequence.db. "
        "postgresql://user@host/db uses PostgreSQL (any number of instances may share it).",
    ),
    Setting(
        "secret_key",
        "",
        "Secret for CSRF tokens. Empty: generated once and kept in DATA_DIR/secret_key. "
        "Instances sharing one database must share it.",
    ),
    Setting(
        "base_url",
        "",
        "Public URL of this server, for links (in emails, and printed by `launchseq user "
        "reset-password`) and same-origin checks. Passkeys need it: browsers bind a passkey "
        "to this address, which must be https://NAME (or http://localhost[:PORT] for a "
        "trial); unset, or an IP address, passkeys are unavailable.",
    ),
    Setting(
        "secure_cookies",
        "auto",
        "Mark cookies Secure: 'true', 'false', or 'auto' (when the request came over HTTPS).",
    ),
    Setting(
        "trusted_proxies",
        "127.0.0.1",
        "Comma-separated addresses or networks (like 10.0.0.0/8) of reverse proxies whose "
        "X-Forwarded-For and X-Forwarded-Proto are believed: the client address for log-in "
        "throttling and HTTPS for secure cookies. '*' trusts every peer: only when nothing "
        "else can reach the server.",
    ),
    Setting("session_idle_minutes", 720, "A session unused this long expires."),
    Setting(
        "session_absolute_hours", 168, "A session expires this long after log-in, in use or not."
    ),
    Setting(
        "session_clock_skew_seconds",
        60,
        "Sessions are timed by a steady clock: a jump of the system clock larger than this is "
        "ignored, so a session ends neither earlier nor later than this because of it.",
    ),
    Setting("login_window_seconds", 900, "Window over which failed log-ins are counted."),
    Setting(
        "login_failures_per_client",
        10,
        "Failed log-ins on one email from one client address within the window; past it, that "
        "address is refused for that email (429 with Retry-After) until its oldest failure "
        "leaves the window. Other addresses, the owner's included, are not concerned.",
    ),
    Setting(
        "login_failures_per_address",
        50,
        "Failed log-ins from one client address within the window, whatever the emails; past "
        "it, that address is refused (password spraying).",
    ),
    Setting(
        "login_failures_per_account",
        10,
        "Failed log-ins on one email from several addresses within the window past which "
        "attempts on it are slowed, never refused for long: each must come 1 s after the "
        "email's last failure, doubling with every further failure up to "
        "LOGIN_SLOWDOWN_MAX_SECONDS.",
    ),
    Setting(
        "login_slowdown_max_seconds",
        60,
        "The longest wait the slowdown of an email under attack imposes: the owner logging in "
        "during an attack from many addresses waits at most this long.",
    ),
    Setting(
        "password_resets_per_email",
        3,
        "Password-reset emails asked for one address within LOGIN_WINDOW_SECONDS; past it the "
        "form answers 429 (the same whether or not the address has an account).",
    ),
    Setting(
        "password_resets_per_address",
        20,
        "Password-reset requests from one client address within LOGIN_WINDOW_SECONDS, "
        "whatever the emails; past it, 429.",
    ),
    Setting(
        "smtp_host",
        "",
        "SMTP server for outgoing email (password resets, invitations). Empty: no email is "
        "sent; the pages that would send one say so and name the command-line route.",
    ),
    Setting("smtp_port", 587, "Port of the SMTP server (587 for STARTTLS, 465 for TLS, 25)."),
    Setting(
        "smtp_tls",
        "starttls",
        "How the SMTP connection is protected: 'starttls' (upgrade a plain connection; refused "
        "if the server cannot), 'tls' (TLS from the first byte, usually port 465) or 'none' "
        "(plain text: only to a relay on the same machine or network).",
    ),
    Setting("smtp_user", "", "User name for SMTP authentication; empty: no authentication."),
    Setting(
        "smtp_password",
        "",
        "Password for SMTP authentication. A secret: never logged or shown.",
    ),
    Setting(
        "mail_from",
        "",
        "The From address of outgoing email, like 'Launch Sequence <flags@example.com>'. "
        "Required when SMTP_HOST is set.",
    ),
    Setting(
        "smtp_timeout_seconds",
        10,
        "How long to wait for the SMTP server at each step before giving up on a message.",
    ),
    Setting(
        "sdk_key_grace_seconds",
        3600,
        "Default time a rotated SDK key keeps working (a rotation request may choose 0 to 7 days).",
    ),
    Setting(
        "max_body_bytes",
        1_048_576,
        "Largest request body accepted; larger answers 413. One endpoint has a limit of its "
        "own: an edge's usage posts (`POST /relay/v1/usage`) take up to 4 MiB, whatever this "
        "is (docs/api.md).",
    ),
    Setting(
        "max_header_bytes",
        65_536,
        "Largest request line and headers accepted; larger answers 431 and closes the connection.",
    ),
    Setting(
        "header_timeout_seconds",
        30,
        "A request line and headers must arrive whole within this time of the connection "
        "opening or the previous answer; slower ones are cut off (408).",
    ),
    Setting(
        "body_timeout_seconds",
        30,
        "A request body must arrive whole within this time of the request's headers; slower "
        "answers 408 and the connection is closed.",
    ),
    Setting("sse_heartbeat_seconds", 15, "Seconds between heartbeat comments on idle streams."),
    Setting(
        "stream_max_buffer_bytes",
        1_048_576,
        "A stream this many bytes behind (its client not reading) is closed; it reconnects.",
    ),
    Setting(
        "max_streams",
        0,
        "Open streams per process, of every kind together (SDK, OFREP and dashboard live "
        "updates); past it, 503 with Retry-After. 0: derived from the open-file limit "
        "(`ulimit -n`, raised to its hard value at start) less a reserve of a tenth, at least "
        "256, kept for health checks, the API and the database. A larger value is lowered to "
        "that, with a warning.",
    ),
    Setting(
        "max_streams_per_key",
        10_000,
        "Open streams per SDK key (or dashboard user) per process; past it, 503.",
    ),
    Setting(
        "version_check_seconds",
        5,
        "How often each process compares its environments' versions and its SDK keys with the "
        "database: repairs a lost notification (PostgreSQL) or hears of another process's change "
        "to the SQLite file (`launchseq import`).",
    ),
    Setting(
        "schedule_check_seconds",
        1.0,
        "How often each process looks for scheduled changes whose time has come (seconds; a "
        "fraction is allowed). A change applies at most this long after its time; any number "
        "of processes may look, and each change is applied once.",
    ),
    Setting(
        "integrity_check_seconds",
        3600,
        "How often a SQLite database is checked for damage (`PRAGMA quick_check`) while the "
        "server runs; it is always checked at start. A damaged file makes /readyz answer 503 "
        "and refuses writes. 0 checks only at start.",
    ),
    Setting(
        "stream_recheck_seconds",
        30,
        "How often an open dashboard live-update stream checks again that its session is "
        "valid and its user still a member of the organization, and ends if not. The instance "
        "where a user logs out or loses a membership ends their streams within a second; so do "
        "the others on PostgreSQL (the change feed tells them); this is the bound otherwise.",
    ),
    Setting(
        "usage_counting",
        "true",
        "Count flag evaluations per environment, flag, variation and application ('true' or "
        "'false'): the flag usage the API and dashboard show (docs/usage.md). Counted in "
        "memory and written once per USAGE_FLUSH_SECONDS; 'false' counts nothing and refuses "
        "and drops SDKs' usage reports (still answered 202, so SDKs need no change).",
    ),
    Setting(
        "usage_flush_seconds",
        60,
        "How often the counted evaluations are written to the database (one transaction). A "
        "clean shutdown writes what is left; a killed process loses at most this long's counts.",
    ),
    Setting(
        "usage_hourly_days",
        30,
        "Hourly usage rows older than this many days are folded into daily rows.",
    ),
    Setting(
        "usage_retention_days",
        400,
        "Daily usage rows, and applications not seen, older than this many days are deleted.",
    ),
    Setting(
        "lifecycle_stale_days",
        30,
        "A flag not evaluated for this many days (and older than that) is stale: a candidate "
        "for removal in the cleanup view.",
    ),
    Setting(
        "lifecycle_launched_days",
        14,
        "A flag that served one variation to everyone in every environment for this many days "
        "is launched: its code can keep that variation and drop the flag.",
    ),
    Setting(
        "lifecycle_recent_days",
        7,
        "Archiving or deleting a flag evaluated in the last this many days asks for "
        "confirmation naming the applications that asked for it.",
    ),
    Setting(
        "usage_posts_per_minute",
        600,
        "Usage reports (POST /sdk/v1/usage) accepted per SDK key per minute by each process; "
        "past it, 429 `rate_limited` with Retry-After (SDKs keep their counts and send them "
        "with the next report).",
    ),
    Setting(
        "webhook_allow_private_addresses",
        "false",
        "'true' lets webhooks send to loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7) "
        "and link-local addresses (169.254/16, fe80::/10): for receivers on your own network. "
        "Off, such URLs are refused when a webhook is saved and at every delivery (whatever the "
        "name resolves to then), so that webhooks cannot reach into the server's network.",
    ),
    Setting(
        "webhook_ca_file",
        "",
        "A PEM file of certificate authorities that webhook receivers' HTTPS certificates are "
        "checked against instead of the usual public ones: for receivers with certificates of "
        "your own CA. Empty: the public authorities.",
    ),
    Setting(
        "webhook_timeout_seconds",
        10,
        "A webhook receiver must answer within this time, or the attempt has failed.",
    ),
    Setting(
        "webhook_backoff_seconds",
        10,
        "The wait after a webhook delivery's first failed attempt; it doubles after each "
        "further one, up to an hour.",
    ),
    Setting(
        "webhook_retry_hours",
        24,
        "A webhook delivery is retried this long after its event, then marked failed.",
    ),
    Setting(
        "webhook_disable_after_hours",
        24,
        "A webhook that has answered no attempt for this long is disabled, with the reason "
        "shown on it, until an admin enables it again.",
    ),
    Setting(
        "webhook_concurrency",
        4,
        "Deliveries in flight at once to one webhook: a receiver that hangs holds up only "
        "its own deliveries. Events for one flag are always sent one after the other.",
    ),
    Setting(
        "webhook_poll_seconds",
        1,
        "How often the instance that sends webhooks looks for deliveries due.",
    ),
    Setting(
        "webhook_lease_seconds",
        30,
        "One instance sends webhooks, holding a lease in the database that it renews; when it "
        "dies, another takes over within this time.",
    ),
    Setting(
        "webhook_retention_days",
        30,
        "Finished webhook deliveries and their events are kept this long.",
    ),
    Setting(
        "oidc_providers",
        "",
        "Single sign-on: a JSON list of OpenID Connect providers, each "
        '`{"id": "google", "name": "Google", "issuer": "https://accounts.google.com", '
        '"client_id": "...", "client_secret": "...", "scopes": ["openid", "email", "profile"]}` '
        "(`scopes` optional, this is its default; `email_verified_claim` optional, default "
        "`email_verified`: the boolean claim that must be true). `id` names the callback URL "
        "to register at the provider: BASE_URL/login/sso/ID/callback. The issuer's discovery "
        "document is read from ISSUER/.well-known/openid-configuration. The client secret is "
        "never logged or shown. See docs/accounts.md.",
    ),
    Setting(
        "oidc_clock_leeway_seconds",
        60,
        "Tolerance for the difference between this server's clock and an OpenID provider's when "
        "checking an ID token's `exp` and `iat`.",
    ),
    Setting(
        "workers",
        "auto",
        "Processes serving the port (`launchseq serve --workers N`): 'auto' (the default) for "
        "one per CPU this process may use (the cores its affinity allows, fewer under a cgroup "
        "CPU quota such as `docker run --cpus`), or a whole number from 1 to 256. Every worker "
        "serves everything; a change made through one reaches the streams of all. Each worker "
        "takes its own memory (about 60 MB, 115 MB once it has served the dashboard or the API); "
        "1 runs one process and no master, for a small machine or for debugging. See "
        "docs/deployment.md (Every core), also for the open-file and stream limits, which are "
        "per worker.",
    ),
    Setting("log_level", "info", "Log level: debug, info, warning or error."),
    Setting(
        "access_log",
        "false",
        "Log every HTTP request ('true' or 'false'); off by default, SDK traffic is heavy.",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}
SMTP_TLS_MODES = ("none", "starttls", "tls")


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: str = "./data"
    database_url: str = ""
    secret_key: str = field(default="", repr=False)
    base_url: str = ""
    secure_cookies: str = "auto"
    trusted_proxies: str = "127.0.0.1"
    session_idle_minutes: int = 720
    session_absolute_hours: int = 168
    session_clock_skew_seconds: int = 60
    login_window_seconds: int = 900
    login_failures_per_client: int = 10
    login_failures_per_address: int = 50
    login_failures_per_account: int = 10
    login_slowdown_max_seconds: int = 60
    password_resets_per_email: int = 3
    password_resets_per_address: int = 20
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_tls: str = "starttls"
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    mail_from: str = ""
    smtp_timeout_seconds: int = 10
    sdk_key_grace_seconds: int = 3600
    max_body_bytes: int = 1_048_576
    max_header_bytes: int = 65_536
    header_timeout_seconds: int = 30
    body_timeout_seconds: int = 30
    sse_heartbeat_seconds: int = 15
    stream_max_buffer_bytes: int = 1_048_576
    max_streams: int = 0
    max_streams_per_key: int = 10_000
    version_check_seconds: int = 5
    schedule_check_seconds: float = 1.0
    integrity_check_seconds: int = 3600
    stream_recheck_seconds: int = 30
    usage_counting: str = "true"
    usage_flush_seconds: int = 60
    usage_hourly_days: int = 30
    usage_retention_days: int = 400
    usage_posts_per_minute: int = 600
    lifecycle_stale_days: int = 30
    lifecycle_launched_days: int = 14
    lifecycle_recent_days: int = 7
    webhook_allow_private_addresses: str = "false"
    webhook_ca_file: str = ""
    webhook_timeout_seconds: int = 10
    webhook_backoff_seconds: int = 10
    webhook_retry_hours: int = 24
    webhook_disable_after_hours: int = 24
    webhook_concurrency: int = 4
    webhook_poll_seconds: int = 1
    webhook_lease_seconds: int = 30
    webhook_retention_days: int = 30
    oidc_providers: str = field(default="", repr=False)  # holds client secrets
    oidc_clock_leeway_seconds: int = 60
    workers: str = "auto"
    log_level: str = "info"
    access_log: str = "false"

    def worker_count(self) -> int:
        """The number of worker processes WORKERS asks for (ValueError if it is neither a
        whole number from 1 to 256 nor 'auto')."""
        return self.worker_plan()[0]

    def worker_plan(self) -> tuple[int, str]:
        """The number of worker processes and why, for the startup line: 'auto: 2 cores
        available' (one per CPU this process may use, see `cpus.py`; one off Linux), or 'set
        by --workers or LAUNCHSEQ_WORKERS'. ValueError if WORKERS is neither a whole number
        from 1 to 256 nor 'auto'."""
        value = str(self.workers).strip().lower()
        if value == "auto":
            if not sys.platform.startswith("linux"):  # workers rely on Linux (workers.py)
                return 1, "auto: workers need Linux"
            budget = cpu_budget()
            return budget.count, f"auto: {budget.describe()}"
        try:
            count = int(value)
        except ValueError:
            count = 0
        if not 1 <= count <= 256:
            raise ValueError(
                f"LAUNCHSEQ_WORKERS must be 'auto' or a whole number from 1 to 256, "
                f"not {self.workers!r}"
            )
        return count, "set by --workers or LAUNCHSEQ_WORKERS"

    @property
    def resolved_database_url(self) -> str:
        """The database URL, with the SQLite default filled in and the driver named."""
        url = self.database_url
        if not url:
            return f"sqlite:///{Path(self.data_dir).resolve() / 'launchsequence.db'}"
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://") :]
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        return url

    def with_secret(self) -> Settings:
        """These settings with a secret key: the configured one, or the one kept in DATA_DIR.

        Raises OSError naming the path when the data directory cannot be written (read-only,
        full) or holds an empty secret file. The file appears whole or not at all: it is
        written aside, synced, then linked into place.
        """
        if self.secret_key:
            return self
        path = Path(self.data_dir) / "secret_key"
        if not path.exists():
            self._write_secret(path)
        key = path.read_text().strip()
        if not key:
            raise OSError(f"{path} is empty; delete it to have a new secret generated")
        return replace(self, secret_key=key)

    @staticmethod
    def _write_secret(path: Path) -> None:
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # private: see store/files
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_urlsafe(32) + "\n")
                    handle.flush()
                    os.fsync(handle.fileno())
                os.link(partial, path)  # never replaces one another process just wrote
            finally:
                partial.unlink(missing_ok=True)
        except FileExistsError:
            return  # another process generated it first: theirs is used
        except OSError as exc:
            raise OSError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _coerce(name: str, raw: Any) -> Any:
    default = _BY_NAME[name].default
    if isinstance(default, float) and not isinstance(raw, (int, float)):
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"{_BY_NAME[name].env} must be a number, not {raw!r}") from None
    if isinstance(default, int) and not isinstance(raw, int):
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{_BY_NAME[name].env} must be a whole number, not {raw!r}") from None
    return raw


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Defaults, then `LAUNCHSEQ_*` variables, then `overrides` (CLI options; None is skipped)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.env in env:
            values[setting.name] = _coerce(setting.name, env[setting.env])
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = _coerce(name, value)
    known = {f.name for f in fields(Settings)}
    settings = Settings(**{k: v for k, v in values.items() if k in known})
    if settings.smtp_tls not in SMTP_TLS_MODES:
        raise ValueError(f"LAUNCHSEQ_SMTP_TLS must be one of {', '.join(SMTP_TLS_MODES)}")
    if settings.smtp_host and not settings.mail_from:
        raise ValueError("LAUNCHSEQ_MAIL_FROM must be set when LAUNCHSEQ_SMTP_HOST is")
    if settings.smtp_host and not settings.base_url:
        # Links in email must not be made from a request's Host header, which anyone chooses.
        raise ValueError(
            "LAUNCHSEQ_BASE_URL must be set when LAUNCHSEQ_SMTP_HOST is: links in email start "
            "with it"
        )
    return settings


def reference_markdown() -> str:
    """docs/configuration.md, generated from the settings table (a test keeps them equal)."""
    lines = [
        "# Configuration",
        "",
        "Every setting is an environment variable. `launchseq serve` also takes `--host`,",
        "`--port`, `--database-url` and `--data-dir`, which win over the environment.",
        "This page is generated from the settings table in `src/launchsequence/config.py`:",
        "`python -c 'from launchsequence.config import reference_markdown as r; print(r())'`.",
        "",
        "| variable | default | what it does |",
        "|---|---|---|",
    ]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default != "" else "(empty)"
        lines.append(f"| `{s.env}` | {default} | {s.help} |")
    return "\n".join(lines) + "\n"
