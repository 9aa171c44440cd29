"""The schema, in SQLAlchemy Core: the same tables on SQLite and PostgreSQL.

Times are stored as integer Unix milliseconds, so that both databases compare them the same way.
JSON columns hold the flag model's documents exactly as the API shows them.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

__all__ = ["metadata"]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Millis = BigInteger

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("created_at", Millis, nullable=False),
    # Set by `launchseq user disable`: no log-in, no session, no API token works.
    Column("disabled_at", Millis),
    # The TOTP seed, encrypted with a key derived from the server's secret (second_factor.py);
    # when it was turned on; the last time step accepted (a code is never accepted twice).
    Column("totp_secret", String(300)),
    Column("totp_enabled_at", Millis),
    Column("totp_last_step", BigInteger),
)

recovery_codes = Table(
    "recovery_codes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    # HMAC-SHA256 of the code under the server's secret: the codes are short.
    Column("code_hash", String(64), nullable=False),
    Column("used_at", Millis),
)

remembered_devices = Table(
    "remembered_devices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created_at", Millis, nullable=False),
    Column("expires_at", Millis, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created_at", Millis, nullable=False),
    # Updated at most once a minute (accounts._TOUCH_EVERY_MS), not on every request.
    Column("last_seen_at", Millis, nullable=False),
    # Where and with what the session logged in, for the list of one's sessions.
    Column("user_agent", String(300)),
    Column("address", String(64)),
    # How it signed in: "password", "second_factor" (password and TOTP or a passkey),
    # "passkey" (a passkey alone, verified by the device) or "sso". NULL: before this was kept.
    Column("sign_in", String(16)),
)

#: Passkeys (WebAuthn credentials): public keys, not secrets. `credential_id` and
#: `user_handle` are base64url; `public_key` is the COSE key, base64url; `sign_count` the last
#: counter the authenticator reported (an assertion must raise it, unless it stays 0).
passkeys = Table(
    "passkeys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("credential_id", String(1400), nullable=False, unique=True),
    Column("user_handle", String(64), nullable=False),
    Column("public_key", Text, nullable=False),
    Column("sign_count", BigInteger, nullable=False),
    Column("name", String(100), nullable=False),
    Column("transports", String(200), nullable=False),
    Column("aaguid", String(36), nullable=False),
    Column("backed_up", Boolean, nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("last_used_at", Millis),
)

#: WebAuthn challenges handed out and not yet answered: each is taken once (deleted when
#: used), expires, and is bound to the session (or the pre-session cookie) it was made for.
#: Stored as SHA-256 digests.
webauthn_challenges = Table(
    "webauthn_challenges",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("challenge_hash", String(64), nullable=False, unique=True),
    Column("purpose", String(16), nullable=False),
    Column("binding", String(64), nullable=False),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), index=True),
    Column("expires_at", Millis, nullable=False, index=True),
)

password_resets = Table(
    "password_resets",
    metadata,
    Column("id", Integer, primary_key=True),
    # SHA-256 of the one-time token in the link; the token itself is never stored.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created_at", Millis, nullable=False),
    Column("expires_at", Millis, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("last_used_at", Millis),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("scope", String(16), nullable=False),
    Column("subject", String(64), nullable=False),
    Column("at", Millis, nullable=False),
    Index("ix_login_failures_subject", "scope", "subject", "at"),
)

organizations = Table(
    "organizations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("created_at", Millis, nullable=False),
    # Members without a second factor cannot reach the organization.
    Column("require_second_factor", Boolean, nullable=False, server_default=false()),
)

memberships = Table(
    "memberships",
    metadata,
    Column("org_id", ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
    Column("role", String(16), nullable=False),
    Column("created_at", Millis, nullable=False),
)

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created_at", Millis, nullable=False),
    # When the project's first-steps checklist was dismissed or found complete, or NULL.
    Column("onboarding_closed_at", Millis),
    UniqueConstraint("org_id", "key", name="uq_projects_org_key"),
)

# A member's role in one project, where it differs from their organization role (admin of
# one project, viewer of another). Never for an owner: owners are owners everywhere.
project_roles = Table(
    "project_roles",
    metadata,
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
    Column("role", String(16), nullable=False),  # admin | viewer
    Column("created_at", Millis, nullable=False),
)

environments = Table(
    "environments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    # Bumped in the same transaction as every change to what the environment serves.
    Column("version", Integer, nullable=False),
    Column("created_at", Millis, nullable=False),
    # Protected: a configuration change needs a change request approved by
    # `required_approvals` members other than its author (services/protection.py).
    Column("protected", Boolean, nullable=False, server_default=false()),
    Column("required_approvals", Integer, nullable=False, server_default="1"),
    # The dashboard asks to confirm (with an optional comment) each toggle or saved
    # configuration here; the REST API does not ask.
    Column("confirm_changes", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("project_id", "key", name="uq_environments_project_key"),
)

sdk_keys = Table(
    "sdk_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "environment_id",
        ForeignKey("environments.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("kind", String(8), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(24), nullable=False),
    # Client keys are public (shipped in web pages) and shown in full; server keys never are.
    Column("client_key", String(64)),
    Column("created_at", Millis, nullable=False),
    # Set when the key was rotated: it works until then.
    Column("expires_at", Millis),
)

relay_keys = Table(
    "relay_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    # A relay key covers every environment of its project: what an edge node serves.
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(24), nullable=False),
    Column("created_at", Millis, nullable=False),
    # Set when revoked: the key stops at once, and the edges using it stop serving.
    Column("revoked_at", Millis),
)

flags = Table(
    "flags",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("type", String(8), nullable=False),
    Column("variations", JSON, nullable=False),
    Column("salt", String(32), nullable=False),
    # {"on_variation": i, "off_variation": j}: what a new environment's configuration serves.
    Column("defaults", JSON, nullable=False),
    # Labels (owner, team, ticket, ...) that reach OFREP answers and OpenFeature's flag metadata.
    Column("metadata", JSON, nullable=False, server_default="{}"),
    Column("archived", Boolean, nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("updated_at", Millis, nullable=False),
    # Lifecycle: the member answering for the flag (an email; None: nobody), "temporary" or
    # "permanent", and the day (YYYY-MM-DD, UTC) a temporary flag is expected to go.
    Column("owner", String(320)),
    Column("kind", String(16), nullable=False, server_default="temporary"),
    Column("removal_date", String(10)),
    UniqueConstraint("project_id", "key", name="uq_flags_project_key"),
)

flag_configs = Table(
    "flag_configs",
    metadata,
    Column("flag_id", ForeignKey("flags.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "environment_id",
        ForeignKey("environments.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
    Column("on", Boolean, nullable=False),
    # Null: the flag answers the caller's own default (OpenFeature's code default).
    Column("off_variation", Integer),
    # Flags of the same environment that must serve a variation first: [{"flag", "variation"}].
    Column("prerequisites", JSON, nullable=False, server_default="[]"),
    Column("targets", JSON, nullable=False),
    Column("rules", JSON, nullable=False),
    Column("fallthrough", JSON),
    Column("client_side", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", Millis, nullable=False),
)

segments = Table(
    "segments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("environment_id", ForeignKey("environments.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("included", JSON, nullable=False),
    Column("excluded", JSON, nullable=False),
    Column("rules", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("updated_at", Millis, nullable=False),
    UniqueConstraint("environment_id", "key", name="uq_segments_environment_key"),
)

invitations = Table(
    "invitations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "org_id", ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    # Only the digest of the token in the invite link is kept.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("email", String(320)),
    Column("role", String(16), nullable=False),
    Column("invited_by", String(320), nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("expires_at", Millis, nullable=False),
)

# A form a user sent after their session ended, kept until they log in again (or it expires).
drafts = Table(
    "drafts",
    metadata,
    Column("id", Integer, primary_key=True),
    # Only the digest of the draft id in the browser's cookie is kept.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("path", String(2000), nullable=False),
    Column("form", JSON, nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("expires_at", Millis, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
    Column("at", Millis, nullable=False),
    Column("actor_id", Integer),
    Column("actor", String(320), nullable=False),
    Column("action", String(64), nullable=False),
    Column("project", String(64)),
    Column("environment", String(64)),
    Column("flag", String(64)),
    Column("resource", String(200), nullable=False),
    Column("before", JSON),
    Column("after", JSON),
    # Why, in the words of who made the change (optional).
    Column("comment", Text),
    Index("ix_audit_log_org", "org_id", "id"),
)


def _usage_table(name: str) -> Table:
    """Evaluations counted per (environment, flag, variation, application) and time bucket:
    `usage_hourly` (bucket = the hour's start) and `usage_daily` (the UTC day's start).
    `flag_key` names the flag as SDKs ask for it (no foreign key: counts outlive a deleted
    flag); `variation` -1 is an answer without one (an error, or the caller's default);
    `application` "" is a caller that named none."""
    return Table(
        name,
        metadata,
        Column(
            "environment_id",
            ForeignKey("environments.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        Column("flag_key", String(64), primary_key=True),
        Column("variation", Integer, primary_key=True),
        Column("application", String(100), primary_key=True),
        Column("bucket", Millis, primary_key=True),
        Column("count", BigInteger, nullable=False),
        Index(f"ix_{name}_bucket", "bucket"),
    )


usage_hourly = _usage_table("usage_hourly")
usage_daily = _usage_table("usage_daily")

# The applications and SDK versions that evaluated, streamed or posted usage in an environment.
usage_applications = Table(
    "usage_applications",
    metadata,
    Column("environment_id", ForeignKey("environments.id", ondelete="CASCADE"), primary_key=True),
    Column("application", String(100), primary_key=True),
    Column("sdk", String(64), primary_key=True),
    Column("sdk_version", String(64), primary_key=True),
    # Distinct instance ids one server heard from in its last interval with this application.
    Column("instance_count", Integer, nullable=False),
    Column("first_seen", Millis, nullable=False),
    Column("last_seen", Millis, nullable=False),
)

#: A configuration change to apply to one flag in one environment at a time (`run_at`).
#: `changes` is a PATCH body; `base` holds the values the fields it changes had when it was
#: scheduled (or last edited), so that a later manual change to those fields is noticed.
scheduled_changes = Table(
    "scheduled_changes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("environment_id", ForeignKey("environments.id", ondelete="CASCADE"), nullable=False),
    # Null once the flag is deleted: the schedule then fails, and stays listed by its key.
    Column("flag_id", ForeignKey("flags.id", ondelete="SET NULL"), index=True),
    Column("flag_key", String(64), nullable=False),
    Column("run_at", Millis, nullable=False),
    Column("changes", JSON, nullable=False),
    Column("base", JSON, nullable=False),
    Column("base_version", Integer, nullable=False),
    Column("comment", Text, nullable=False),
    Column("author_id", ForeignKey("users.id", ondelete="SET NULL")),
    Column("author_email", String(320), nullable=False),
    # pending -> applied | failed | cancelled; nothing leaves those three.
    Column("status", String(16), nullable=False),
    Column("reason", Text),  # why it failed
    Column("note", Text),  # how it applied ("applied 3 h late")
    Column("version", Integer),  # the configuration's version it produced
    Column("created_at", Millis, nullable=False),
    Column("updated_at", Millis, nullable=False),
    Column("finished_at", Millis),  # applied, failed or cancelled
    # Set when an approved change request is applied at a time: the scheduler applies it
    # through the request's approval (a protected environment refuses any other schedule).
    Column("change_request_id", Integer),
    Index("ix_scheduled_changes_due", "status", "run_at"),
    Index("ix_scheduled_changes_project", "project_id", "run_at"),
)

# A proposed configuration change to one flag in one protected environment (see
# services/change_requests.py). `revision` grows with every edit; only approvals of the current
# revision count. state: open -> applied | rejected | cancelled | failed ("approved" and
# "scheduled" are derived: enough approvals; a pending schedule in `schedule_id`).
change_requests = Table(
    "change_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("environment_id", ForeignKey("environments.id", ondelete="CASCADE"), nullable=False),
    Column("flag_id", ForeignKey("flags.id", ondelete="SET NULL")),
    Column("flag_key", String(64), nullable=False),
    Column("changes", JSON, nullable=False),
    Column("base", JSON, nullable=False),  # the fields `changes` sets, as they were
    Column("base_version", Integer, nullable=False),
    Column("comment", Text, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("author_id", ForeignKey("users.id", ondelete="SET NULL")),
    Column("author_email", String(320), nullable=False),
    Column("state", String(16), nullable=False),
    Column("schedule_id", ForeignKey("scheduled_changes.id", ondelete="SET NULL")),
    Column("closed_by", String(320)),  # who applied, rejected or cancelled it
    Column("reason", Text),  # why it was rejected, or failed
    Column("version", Integer),  # the configuration's version its application made
    Column("created_at", Millis, nullable=False),
    Column("updated_at", Millis, nullable=False),
    Column("closed_at", Millis),
    Index("ix_change_requests_project", "project_id", "state", "id"),
    Index("ix_change_requests_flag", "flag_id"),
)

change_request_approvals = Table(
    "change_request_approvals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("request_id", ForeignKey("change_requests.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", ForeignKey("users.id", ondelete="SET NULL")),
    Column("user_email", String(320), nullable=False),
    Column("revision", Integer, nullable=False),  # the request's revision approved
    Column("created_at", Millis, nullable=False),
    UniqueConstraint("request_id", "user_id", "revision", name="uq_change_request_approvals_once"),
)

# The outbox: one row per event (flag, segment, SDK key, ...), written in the same transaction
# as the change, with the body every webhook gets (services/events.py documents it).
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(40), nullable=False, unique=True),
    Column("org_id", ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(64), nullable=False),
    Column("project", String(64)),
    # Events with the same order key reach each webhook in the order they happened.
    Column("order_key", String(300), nullable=False),
    Column("body", JSON, nullable=False),
    Column("created_at", Millis, nullable=False),
    Index("ix_events_org", "org_id", "id"),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
    # Null: every project of the organization.
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE")),
    Column("url", String(2000), nullable=False),
    Column("description", String(200), nullable=False),
    # The signing secret, encrypted with the server's secret key (it must be read to sign).
    Column("secret", Text, nullable=False),
    Column("secret_prefix", String(16), nullable=False),
    Column("events", JSON, nullable=False),
    Column("format", String(8), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", String(300)),
    # The first failed attempt since the last answered one; None while it answers.
    Column("failing_since", Millis),
    Column("created_by", ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", Millis, nullable=False),
    Column("updated_at", Millis, nullable=False),
    Index("ix_webhooks_org", "org_id"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("webhook_id", ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("event_id", ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    Column("order_key", String(300), nullable=False),
    # pending, succeeded or failed (given up).
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Millis, nullable=False),
    Column("last_attempt_at", Millis),
    Column("response_status", Integer),
    Column("response_excerpt", String(500)),
    Column("error", String(300)),
    Column("duration_ms", Integer),
    Column("created_at", Millis, nullable=False),
    Column("completed_at", Millis),
    Index("ix_webhook_deliveries_queue", "status", "webhook_id", "order_key", "id"),
    Index("ix_webhook_deliveries_webhook", "webhook_id", "id"),
    Index("ix_webhook_deliveries_event", "event_id"),
)

# Work that one instance does for all (the webhook sender, ...): held until `expires_at`,
# renewed by its holder.
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("expires_at", Millis, nullable=False),
)


# --- single sign-on (OpenID Connect) -----------------------------------------------------------

#: Who signed in through which provider: the provider's `sub` is the identity, not the email.
sso_links = Table(
    "sso_links",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("provider", String(64), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("email", String(320), nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("last_used_at", Millis, nullable=False),
    UniqueConstraint("provider", "subject", name="uq_sso_links_provider_subject"),
)

#: An organization's single sign-on settings; no row is the default (nothing allowed, nothing
#: required).
org_sso = Table(
    "org_sso",
    metadata,
    Column("org_id", ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True),
    Column("default_role", String(16), nullable=False),
    Column("required", Boolean, nullable=False),
    Column("updated_at", Millis, nullable=False),
)

#: Email domains whose people become members on their first SSO sign-in.
org_sso_domains = Table(
    "org_sso_domains",
    metadata,
    Column("org_id", ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True),
    Column("domain", String(253), primary_key=True),
    Index("ix_org_sso_domains_domain", "domain"),
)


# Code references (`launchseq code-refs`): the latest scan per (project, repository, branch),
# uploaded by CI; the server never reads code. A new upload replaces the branch's scan whole.
code_ref_scans = Table(
    "code_ref_scans",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("repository", String(200), nullable=False),
    Column("branch", String(200), nullable=False),
    Column("commit_sha", String(64), nullable=False),
    Column("link_template", String(500)),
    Column("ref_count", Integer, nullable=False),
    Column("file_count", Integer, nullable=False),
    Column("uploaded_by", ForeignKey("users.id", ondelete="SET NULL")),
    Column("scanned_at", Millis, nullable=False),
    UniqueConstraint("project_id", "repository", "branch", name="uq_code_ref_scans_branch"),
)

code_refs = Table(
    "code_refs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("scan_id", ForeignKey("code_ref_scans.id", ondelete="CASCADE"), nullable=False),
    # No foreign key: a reference may name a flag created later, or one already deleted.
    Column("flag_key", String(64), nullable=False),
    Column("path", String(500), nullable=False),
    Column("line", Integer, nullable=False),
    Column("kind", String(8), nullable=False),  # call | string | comment
    # The lines around it: {"start": first line's number, "lines": [...]}.
    Column("context", JSON, nullable=False),
    Index("ix_code_refs_scan_flag", "scan_id", "flag_key"),
)
