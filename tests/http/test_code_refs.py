"""Code references end to end: `launchseq code-refs` (a real process) scans a real git
repository and uploads to a live server; the REST API and the flag page show what it found;
the latest scan of a branch replaces the one before; bounds and errors answer stable codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.http.test_isolation import bearer
from tests.support.api import ApiUser, signup
from tests.support.repo import KEYS, commit_all, git, make_repo

LAUNCHSEQ = [sys.executable, "-m", "launchsequence"]


def code_refs(*args: str, token: str | None, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LAUNCHSEQ_")}
    environ.pop("GITHUB_REF_NAME", None)
    if token is not None:
        environ["LAUNCHSEQ_TOKEN"] = token
    # A database URL nobody can reach: the command must not need one.
    environ["LAUNCHSEQ_DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none"
    environ.update(env)
    return subprocess.run(
        [*LAUNCHSEQ, "code-refs", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def setup_project(user: ApiUser) -> str:
    base = f"/api/v1/orgs/{user.org}/projects/default"
    for key in sorted(KEYS):
        assert user.post(f"{base}/flags", json={"key": key, "name": key}).status_code == 201
    created = user.post("/api/v1/tokens", json={"name": "ci"})
    assert created.status_code == 201, created.text
    return str(created.json()["token"])


def flag_refs(user: ApiUser, flag: str) -> dict[str, Any]:
    answer = user.get(f"/api/v1/orgs/{user.org}/projects/default/flags/{flag}/code-refs")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def flag_page(user: ApiUser, flag: str) -> str:
    page = user.get(f"/o/{user.org}/p/default/flags/{flag}?env=production")
    assert page.status_code == 200, page.text
    return page.text


TEMPLATE = "https://github.com/acme/shop/blob/{commit}/{path}#L{line}"


def test_scan_upload_and_the_flag_page(live, tmp_path):
    user = signup(live.url, "ci@example.com")
    token = setup_project(user)
    repo = tmp_path / "shop"
    head = make_repo(repo)

    # Before any scan: "never scanned", not "no references".
    assert flag_refs(user, "new-checkout")["scanned"] is False
    assert 'data-status="never-scanned"' in flag_page(user, "new-checkout")

    args = ["--dir", str(repo), "--project", "default", "--url", live.url]
    done = code_refs(*args, "--link-template", TEMPLATE, token=token)
    assert done.returncode == 0, done.stderr
    assert "found 10 references to 4 flags in 3 files" in done.stdout
    assert "2 SDK calls with a key computed at run time" in done.stdout
    assert f"uploaded 10 references of acme/shop main at {head[:12]}" in done.stdout

    refs = flag_refs(user, "new-checkout")
    assert refs["scanned"] is True
    assert [(r["path"], r["line"], r["kind"]) for r in refs["refs"]] == [
        ("app/service.py", 6, "call"),
        ("cmd/main.go", 3, "string"),
        ("web/src/page.ts", 4, "call"),
    ]
    first = refs["refs"][0]
    assert (first["repository"], first["branch"], first["commit"]) == ("acme/shop", "main", head)
    assert first["link"] == f"https://github.com/acme/shop/blob/{head}/app/service.py#L6"
    assert first["context"]["start"] == 4 and len(first["context"]["lines"]) == 5

    page = flag_page(user, "new-checkout")
    assert 'data-status="found"' in page
    assert f'href="https://github.com/acme/shop/blob/{head}/app/service.py#L6"' in page
    assert "app/service.py:6" in page and "cmd/main.go:3" in page
    assert "if client.bool_value(&#34;new-checkout&#34;, ctx, False):" in page
    assert "string match" in page  # cmd/main.go: other languages are marked as such
    assert "in a comment" in flag_page(user, "old-flag")
    # Scanned, and this key appears nowhere: said distinctly from "never scanned".
    none = flag_page(user, "never-used")
    assert 'data-status="none"' in none and "No code references" in none

    # A new commit on main: its scan replaces the previous one of that branch.
    service = repo / "app" / "service.py"
    service.write_text(service.read_text().replace('"new-checkout"', '"beta"'))
    second = commit_all(repo, "new checkout launched")
    assert code_refs(*args, token=token).returncode == 0
    refs = flag_refs(user, "new-checkout")
    assert [r["path"] for r in refs["refs"]] == ["cmd/main.go", "web/src/page.ts"]
    assert {r["commit"] for r in refs["refs"]} == {second}
    assert {r["link"] for r in refs["refs"]} == {""}, "no template given this time"

    # Another branch is kept beside it; the latest of each branch.
    git(repo, "checkout", "-q", "-b", "old", head)
    assert code_refs(*args, token=token).returncode == 0
    listed = user.get(f"/api/v1/orgs/{user.org}/projects/default/code-refs").json()["scans"]
    assert [(s["repository"], s["branch"], s["commit"]) for s in listed] == [
        ("acme/shop", "main", second),
        ("acme/shop", "old", head),
    ]
    assert [r["branch"] for r in flag_refs(user, "new-checkout")["refs"]] == [
        "main", "main", "old", "old", "old"
    ]  # fmt: skip

    # Deleting the repository's scans: back to "never scanned".
    base = f"/api/v1/orgs/{user.org}/projects/default/code-refs"
    assert user.delete(base, params={"repository": "acme/shop", "branch": "old"}).status_code == 204
    assert [s["branch"] for s in user.get(base).json()["scans"]] == ["main"]
    assert user.delete(base, params={"repository": "acme/shop"}).status_code == 204
    gone = user.delete(base, params={"repository": "acme/shop"})
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    assert flag_refs(user, "new-checkout") == {
        "flag": "new-checkout", "scanned": False, "scans": [], "refs": []
    }  # fmt: skip


def test_command_errors(live, tmp_path):
    user = signup(live.url, "errors@example.com")
    token = setup_project(user)
    repo = tmp_path / "shop"
    make_repo(repo)
    args = ["--dir", str(repo), "--project", "default", "--url", live.url]

    missing = code_refs(*args, token=None)
    assert missing.returncode == 2 and "set LAUNCHSEQ_TOKEN" in missing.stderr
    other_var = code_refs(*args, "--token-env", "CI_FLAGS_TOKEN", token=None, CI_FLAGS_TOKEN=token)
    assert other_var.returncode == 0, other_var.stderr

    wrong = code_refs(*args, token="lst_not-a-real-token")
    assert wrong.returncode == 1 and "401 unauthorized" in wrong.stderr
    no_project = code_refs("--dir", str(repo), "--project", "nope", "--url", live.url, token=token)
    assert no_project.returncode == 1 and "404 not_found" in no_project.stderr

    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.py").write_text('client.bool_value("beta", {}, False)\n')
    no_git = code_refs("--dir", str(plain), "--project", "default", "--url", live.url, token=token)
    assert no_git.returncode == 2 and "give --branch and --commit" in no_git.stderr
    given = code_refs(
        "--dir", str(plain), "--project", "default", "--url", live.url,
        "--branch", "main", "--commit", "abc1234", "--repository", "acme/plain", token=token,
    )  # fmt: skip
    assert given.returncode == 0, given.stderr
    assert "uploaded 1 references of acme/plain main at abc1234" in given.stdout

    # A viewer's token reads but cannot upload.
    viewer = signup(live.url, "viewer@example.com")
    members = f"/api/v1/orgs/{user.org}/members"
    assert user.post(members, json={"email": viewer.email, "role": "viewer"}).status_code == 201
    viewer_token = viewer.post("/api/v1/tokens", json={"name": "v"}).json()["token"]
    refused = code_refs(*args, "--org", user.org, token=viewer_token)
    assert refused.returncode == 1 and "403 read_only" in refused.stderr

    # Dry run: prints, uploads nothing.
    before = user.get(f"/api/v1/orgs/{user.org}/projects/default/code-refs").json()
    dry = code_refs(*args, "--dry-run", token=token)
    assert dry.returncode == 0 and "app/service.py:6\tnew-checkout\tcall" in dry.stdout
    assert user.get(f"/api/v1/orgs/{user.org}/projects/default/code-refs").json() == before


def ref(i: int = 0, **over: Any) -> dict[str, Any]:
    return {"flag": "beta", "path": f"f{i}.py", "line": 2, "kind": "call",
            "context": {"start": 1, "lines": ["a", "b", "c"]}, **over}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"refs": [ref(i % 1000) for i in range(5001)]}, "too_many_refs", "refs"),
        ({"refs": [ref(i) for i in range(1001)]}, "too_many_files", "refs"),
        ({"refs": [ref(context={"start": 1, "lines": ["x"] * 8})]}, "context_too_large",
         "refs.0.context"),
        ({"refs": [ref(context={"start": 1, "lines": ["x" * 301, "b"]})]}, "context_too_large",
         "refs.0.context"),
        ({"refs": [ref(context={"start": 5, "lines": ["x"]})]}, "invalid", "refs.0.context"),
        ({"refs": [ref(flag="Not A Key")]}, "invalid", "refs.0.flag"),
        ({"refs": [ref(path="/etc/passwd")]}, "invalid", "refs.0.path"),
        ({"refs": [ref(kind="guess")]}, "invalid", None),
        ({"commit": "not-hex"}, "invalid", "commit"),
        ({"repository": "../x"}, "invalid", "repository"),
        ({"branch": "a\nb"}, "invalid", "branch"),
        ({"link_template": "javascript:alert(1)//{path}"}, "invalid", "link_template"),
        ({"link_template": "https://x/{path.__class__}"}, "invalid", "link_template"),
    ],
)  # fmt: skip
def test_upload_bounds(live, body, code, field):
    user = signup(live.url, "bounds@example.com")
    token = bearer(live.url, user)
    scan = {"repository": "acme/shop", "branch": "main", "commit": "abcdef1", "refs": [ref()]}
    answer = token.post(
        f"/api/v1/orgs/{user.org}/projects/default/code-refs", json={**scan, **body}
    )
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == code
    if field is not None:
        assert error["field"] == field
    listed = token.get(f"/api/v1/orgs/{user.org}/projects/default/code-refs").json()
    assert listed == {"scans": []}, "nothing stored"
    token.close()


def test_an_upload_at_the_bounds_is_kept_and_a_path_is_escaped_in_links(live):
    user = signup(live.url, "big@example.com")
    assert (
        user.post(
            f"/api/v1/orgs/{user.org}/projects/default/flags", json={"key": "beta", "name": "b"}
        ).status_code
        == 201
    )
    token = bearer(live.url, user)
    refs = [ref(i % 1000) for i in range(5000)]
    refs = [{**r, "path": "docs/a file#1.py"} if r["path"] == "f0.py" else r for r in refs]
    scan = {
        "repository": "acme/shop", "branch": "main", "commit": "ABCDEF1", "refs": refs,
        "link_template": "https://git.example.com/{branch}/{commit}/{path}?l={line}",
    }  # fmt: skip
    stored = token.post(f"/api/v1/orgs/{user.org}/projects/default/code-refs", json=scan)
    assert stored.status_code == 200, stored.text
    assert (stored.json()["refs"], stored.json()["files"], stored.json()["commit"]) == (
        5000, 1000, "abcdef1"
    )  # fmt: skip
    found = flag_refs(user, "beta")["refs"]
    assert len(found) == 5000
    escaped = [r["link"] for r in found if r["path"] == "docs/a file#1.py"]
    assert escaped == ["https://git.example.com/main/abcdef1/docs/a%20file%231.py?l=2"] * 5
    page = flag_page(user, "beta")
    assert "And 4900 more" in page
    token.close()


def test_the_command_imports_no_database_code(tmp_path):
    """`code-refs` is a client: SQLAlchemy, Alembic and the store stay unimported."""
    check = (
        "import sys\n"
        "from launchsequence.cli import main\n"
        "code = main(['code-refs', '--dir', sys.argv[1], '--project', 'p',"
        " '--url', 'http://127.0.0.1:9'])\n"
        "assert code == 2, code\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic')"
        " or m.startswith(('launchsequence.store', 'launchsequence.services'))]\n"
        "assert not bad, bad\n"
    )
    environ = {k: v for k, v in os.environ.items() if k != "LAUNCHSEQ_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-c", check, str(tmp_path)],
        capture_output=True, text=True, timeout=60, env=environ,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "set LAUNCHSEQ_TOKEN" in done.stderr


def test_help_text_names_every_option():
    done = subprocess.run(
        [*LAUNCHSEQ, "code-refs", "--help"], capture_output=True, text=True, timeout=60
    )
    for option in ("--dir", "--project", "--org", "--url", "--token-env", "--branch",
                   "--commit", "--dry-run", "--link-template", "--repository"):  # fmt: skip
        assert option in done.stdout
    assert Path(LAUNCHSEQ[0]).exists()


def test_deleting_a_project_deletes_its_scans(live):
    """Scans go with their project (the database's cascade); another project's stay."""
    from sqlalchemy import func, select

    from launchsequence.store.tables import code_ref_scans, code_refs

    user = signup(live.url, "cascade@example.com")
    org = f"/api/v1/orgs/{user.org}"
    assert user.post(f"{org}/projects", json={"key": "doomed", "name": "D"}).status_code == 201
    scan = {"repository": "acme/shop", "branch": "main", "commit": "abcdef1", "refs": [ref()]}
    for project in ("default", "doomed"):
        stored = user.post(f"{org}/projects/{project}/code-refs", json=scan)
        assert stored.status_code == 200, stored.text

    def rows() -> tuple[int, int]:
        with live.app.state.services.rt.db.connect() as conn:
            scans = conn.execute(select(func.count()).select_from(code_ref_scans)).scalar_one()
            refs = conn.execute(select(func.count()).select_from(code_refs)).scalar_one()
        return scans, refs

    assert rows() == (2, 2)
    assert user.delete(f"{org}/projects/doomed").status_code == 204
    assert rows() == (1, 1)
    kept = user.get(f"{org}/projects/default/code-refs").json()["scans"]
    assert [s["repository"] for s in kept] == ["acme/shop"]


def test_uploads_for_one_branch_at_once_leave_one_whole_scan(live_any_db):
    """CI runs of two pushes racing: each upload succeeds, and one of them, whole, is kept."""
    from concurrent.futures import ThreadPoolExecutor

    user = signup(live_any_db.url, "race@example.com")
    token = bearer(live_any_db.url, user)
    base = f"/api/v1/orgs/{user.org}/projects/default"

    def upload(n: int) -> int:
        refs = [ref(i) for i in range(n + 1)]
        scan = {"repository": "acme/shop", "branch": "main", "commit": f"abc{n:04d}", "refs": refs}
        return token.post(f"{base}/code-refs", json=scan).status_code

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(upload, range(1, 9))) == [200] * 8
    (scan,) = token.get(f"{base}/code-refs").json()["scans"]
    n = int(scan["commit"][3:])
    assert scan["refs"] == n + 1
    assert user.post(f"{base}/flags", json={"key": "beta", "name": "b"}).status_code == 201
    assert len(flag_refs(user, "beta")["refs"]) == n + 1
    token.close()
