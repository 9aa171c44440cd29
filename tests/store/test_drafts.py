"""Kept drafts in the database, on SQLite and PostgreSQL: one per user and page, few per user,
taken back once by their owner only, gone after their time."""

from __future__ import annotations

from sqlalchemy import func, select

from launchsequence.services.drafts import DRAFT_KEEP_MS, DRAFTS_PER_USER
from launchsequence.store.tables import drafts
from tests.store.test_store import db, world  # noqa: F401 (the fixtures)

TOKEN = "ls_ses_ended-session-token"


def _count(w) -> int:
    with w.db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(drafts)).scalar_one())


def test_drafts_come_back_once_to_their_owner_and_stay_few(world):  # noqa: F811
    d = world.services.drafts
    tag = d.owner_tag(world.actor, TOKEN)
    form = {"target0": ["vip-1"], "csrf_token": ["x"], "draft_owner": [tag]}

    first = d.keep(session_token=TOKEN, owner_tag=tag, path="/o/a/p/b/flags/c", form=form)
    again = d.keep(session_token=TOKEN, owner_tag=tag, path="/o/a/p/b/flags/c", form=form)
    assert first and again and _count(world) == 1  # a newer draft of a page replaces the older
    assert d.restore(world.actor, first, "/o/a/p/b/flags/c") is None
    assert d.restore(world.actor, again, "/o/a/p/b/flags/other") is None
    assert d.restore(world.actor, again, "/o/a/p/b/flags/c") == {"target0": ["vip-1"]}
    assert d.restore(world.actor, again, "/o/a/p/b/flags/c") is None  # once

    other = world.services.accounts.create_user(email="other@example.com", password="pw-12345678")
    mine = d.keep(session_token=TOKEN, owner_tag=tag, path="/p", form=form)
    assert mine is not None
    assert d.restore(other, mine, "/p") is None
    assert d.keep(session_token="ls_ses_another", owner_tag=tag, path="/p", form=form) is None

    for n in range(DRAFTS_PER_USER + 5):
        d.keep(session_token=TOKEN, owner_tag=tag, path=f"/page/{n}", form=form)
    assert _count(world) == DRAFTS_PER_USER


def test_a_draft_expires(world):  # noqa: F811
    d = world.services.drafts
    tag = d.owner_tag(world.actor, TOKEN)
    start = world.services.rt.now()
    world.services.rt.clock = lambda: start
    kept = d.keep(session_token=TOKEN, owner_tag=tag, path="/p", form={"a": ["1"]})
    assert kept is not None
    world.services.rt.clock = lambda: start + DRAFT_KEEP_MS + 1  # a working day later
    assert d.restore(world.actor, kept, "/p") is None
