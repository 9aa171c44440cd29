"""Every dashboard page, reached as a team would reach it, checked by axe-core and photographed.

A project with flags (one with targets, rules, a rollout and a segment), a segment and a second
member is made first; then each page (signed out: log in, sign up; signed in: every page the
navigation leads to, the flag page in each environment tab, the confirmation pages and an error
page, the first-steps checklist, production's confirmations: the dialog, and the server's own
when a form comes without scripts) is checked by axe-core, which Playwright injects (from
tests/a11y, pinned in its package-lock; installed here with `npm ci` when missing). No serious
or critical violation is allowed, in the light and the dark color scheme. Each page is saved as
test-artifacts/a11y-NAME-1280.png and -390.png (1280x800 and a 390x844 phone), and the phone
page must not scroll sideways.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, create_flag, log_in, shot, sign_up

A11Y = Path(__file__).resolve().parents[1] / "a11y"
AXE = A11Y / "node_modules" / "axe-core" / "axe.min.js"
SIZES = ((1280, 800), (390, 844))
#: What axe checks: WCAG 2.1 A and AA, and its best practices.
RUN = """async () => {
  const result = await axe.run(document, {
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
    resultTypes: ['violations'],
  });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
  }));
}"""


#: What sticks out past the right edge of the window (empty when nothing does).
WIDEST = """() => {
  const edge = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= edge + 1) return '';
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    let clipped = false;
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== 'visible') clipped = true;
    }
    if (!clipped && r.right > edge + 1) {
      const cls = typeof el.className === 'string' && el.className
        ? '.' + el.className.split(' ').join('.') : '';
      const id = el.id ? '#' + el.id : '';
      out.push(el.tagName.toLowerCase() + id + cls + ' ' + Math.round(r.right - edge) + 'px');
    }
  }
  return out.slice(0, 4).join(', ') || 'wider than the window';
}"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        npm = shutil.which("npm")
        if npm is None:
            message = "ACCESSIBILITY CHECK NOT RUN: no npm to install axe-core (tests/a11y)"
            if os.environ.get("CI"):
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=A11Y, check=True, timeout=300
        )
    return AXE.read_text(encoding="utf-8")


def _api(page: Any, base: str, method: str, path: str, data: Any) -> Any:
    """A REST call with the page's session (as the dashboard's own scripts would make it)."""
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value") or ""
    answer = page.request.fetch(
        f"/api/v1{path}",
        method=method,
        data=data,
        headers={"X-CSRF-Token": token, "Origin": base},
    )
    assert answer.status in (200, 201), (path, answer.status, answer.text())
    return answer.json()


def _build_project(new_context: Any, base: str) -> tuple[str, str]:
    """An organization with flags, a segment, rules and a second member; (org, main flag)."""
    other = new_context().new_page()
    sign_up(other, "a11y-member@example.com", "Mo Member")
    page = new_context().new_page()
    org = sign_up(page, "a11y-owner@example.com", "Ada Owner")
    create_flag(page, org, "Checkout banner", "string", ["blue", "green"])
    flag = create_flag(page, org, "New checkout", "boolean", [])
    project = f"/orgs/{org}/projects/default"
    _api(page, base, "POST", f"/orgs/{org}/members",
         {"email": "a11y-member@example.com", "role": "admin"})  # fmt: skip
    _api(page, base, "POST", f"/orgs/{org}/invitations", {"role": "viewer"})
    _api(page, base, "PUT", f"{project}/environments/production/segments/beta",
         {"name": "Beta testers", "included": ["u-1", "u-2"],
          "rules": [{"clauses": [{"attribute": "email", "op": "ends_with",
                                  "values": ["@example.com"]}]}]})  # fmt: skip
    _api(page, base, "PUT", f"{project}/flags/{flag}/environments/production", {
        "on": True, "off_variation": 1,
        "targets": [{"variation": 0, "values": ["vip-1", "vip-2"]}],
        "rules": [
            {"description": "Europe", "clauses": [
                {"attribute": "country", "op": "in", "values": ["DE", "FR", "NL"]}],
             "serve": {"rollout": {"bucket_by": "key", "weights": [
                 {"variation": 0, "weight": 60000}, {"variation": 1, "weight": 40000}]}}},
            {"clauses": [{"attribute": "key", "op": "segment_match", "values": ["beta"]}],
             "serve": {"variation": 0}},
        ],
        "fallthrough": {"variation": 1},
    })  # fmt: skip
    # Staging protected, with a change request waiting (its list and page are checked).
    _api(page, base, "PATCH", f"{project}/environments/staging", {"protected": True})
    _api(page, base, "POST", f"{project}/change-requests",
         {"flag": flag, "environment": "staging", "comment": "Launch in staging",
          "changes": {"on": True, "targets": [{"variation": 0, "values": ["qa-1"]}]}})  # fmt: skip
    return org, flag


def _pages(org: str, flag: str) -> list[tuple[str, str]]:
    p = f"/o/{org}/p/default"
    return [
        ("dashboard", f"/o/{org}"),
        ("flags", f"{p}/flags"),
        ("flag-production", f"{p}/flags/{flag}?env=production"),
        ("flag-staging", f"{p}/flags/{flag}?env=staging"),
        ("flag-tested", f"{p}/flags/{flag}?env=production&context=%7B%22key%22%3A%22vip-1%22%7D"),
        ("flag-string", f"{p}/flags/checkout-banner?env=production"),
        ("new-flag", f"{p}/flags/new"),
        ("variations", f"{p}/flags/checkout-banner/variations"),
        ("segments", f"{p}/segments"),
        ("segments-empty", f"{p}/segments?env=staging"),
        ("schedules", f"{p}/schedules"),
        ("cleanup", f"{p}/cleanup"),
        ("edges", f"{p}/edges"),
        ("applications", f"{p}/environments/production/applications"),
        ("webhooks", f"/o/{org}/webhooks"),
        ("segment", f"{p}/segments/beta?env=production"),
        ("environments", f"{p}/environments"),
        ("change-requests", f"{p}/change-requests"),
        ("change-request", f"{p}/change-requests/1"),
        ("rotate", f"{p}/environments/production/rotate?kind=server"),
        ("delete-environment", f"{p}/environments/staging/delete"),
        ("project-settings", f"{p}/settings"),
        ("project-members", f"{p}/members"),
        ("org-settings", f"/o/{org}/settings"),
        ("audit", f"/o/{org}/audit"),
        ("api-docs", "/api/v1/docs"),
        ("not-found", f"{p}/flags/no-such-flag"),
    ]


def _check(page: Any, axe: str, name: str, found: dict[str, list[Any]]) -> None:
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe)  # through the DevTools protocol: the page's CSP does not apply
    for v in page.evaluate(RUN):
        found.setdefault(name, []).append(v)


def _walk(page: Any, axe: str, pages: list[tuple[str, str]], width: int, scheme: str,
          found: dict[str, list[Any]]) -> None:  # fmt: skip
    wide: list[str] = []
    for name, url in pages:
        page.goto(url)
        page.wait_for_load_state("load")
        _check(page, axe, f"{name} {width}px {scheme}", found)
        if scheme == "light" and name == "api-docs":  # very tall: its first screen
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"a11y-{name}-{width}.png"))
        elif scheme == "light":
            shot(page, f"a11y-{name}-{width}")
        overflow = page.evaluate(WIDEST)
        if overflow:
            wide.append(f"{name} ({overflow})")
    for name, state in _CONFIRMATIONS:
        page.goto(f"/o/{org_of(pages)}/p/default/flags/new-checkout?env=production")
        page.wait_for_load_state("load")
        page.evaluate(state)
        page.wait_for_load_state("load")
        page.wait_for_selector("dialog[open], #confirm-toggle, #confirm-save")
        _check(page, axe, f"{name} {width}px {scheme}", found)
        if scheme == "light":
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"a11y-{name}-{width}.png"))
        overflow = page.evaluate(WIDEST)
        if overflow:
            wide.append(f"{name} ({overflow})")
    if width < 500:
        found.setdefault("phone", []).extend(wide)


def org_of(pages: list[tuple[str, str]]) -> str:
    return pages[0][1].split("/")[2]


#: Production asks before a change applies: the dialog (scripts), and the server's own
#: confirmation of a toggle and of a save (a form sent as without scripts). None applies.
_CONFIRMATIONS = [
    ("confirm-dialog", "() => document.querySelector('#flag-status button[role=switch]').click()"),
    (
        "confirm-toggle",
        """() => {
      const form = document.querySelector('#flag-status form');
      const press = document.createElement('input');
      press.type = 'hidden'; press.name = 'toggle';
      press.value = form.querySelector('button[name=toggle]').value;
      form.appendChild(press);
      form.submit();
    }""",
    ),
    (
        "confirm-save",
        """() => {
      const form = document.querySelector('form.config');
      const press = document.createElement('input');
      press.type = 'hidden'; press.name = 'action'; press.value = 'save';
      form.appendChild(press);
      form.submit();
    }""",
    ),
]


def test_every_page_has_no_serious_accessibility_violation(browser, server, new_context,
                                                           axe_source):  # fmt: skip
    org, flag = _build_project(new_context, server.url)
    found: dict[str, list[Any]] = {}
    for scheme in ("light", "dark"):
        for width, height in SIZES:
            if scheme == "dark" and width < 500:
                continue
            context = browser.new_context(
                base_url=server.url, viewport={"width": width, "height": height},
                color_scheme=scheme,
            )  # fmt: skip
            context.set_default_timeout(10000)
            try:
                page = context.new_page()
                for name, url in (("login", "/login"), ("signup", "/signup")):
                    page.goto(url)
                    _check(page, axe_source, f"{name} {width}px {scheme}", found)
                    if scheme == "light":
                        shot(page, f"a11y-{name}-{width}")
                log_in(page, "a11y-owner@example.com")
                _walk(page, axe_source, _pages(org, flag), width, scheme, found)
            finally:
                context.close()
    wide = found.pop("phone", [])
    report = [
        f"{where}: {v['impact']} {v['id']} ({v['help']}) at {', '.join(v['nodes'])}"
        for where, violations in found.items()
        for v in violations
    ]
    print("\naxe-core findings (any impact):\n" + ("\n".join(report) or "none"))
    serious = [line for line in report if ": serious " in line or ": critical " in line]
    assert serious == [], "\n".join(serious)
    assert wide == [], f"pages wider than a phone: {wide}"
