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
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created_at", Millis, nullable=False),
    Column("last_seen_at", Millis, nullable=False),
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
    UniqueConstraint("org_id", "key", name="uq_projects_org_key"),
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
