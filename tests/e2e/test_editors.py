"""The flag page's editors as people use them: a rollout drawn as a bar with the remainder said,
clause values as chips (typed, pasted, removed), "test a context" from a key and attribute rows
with the JSON beside them, role descriptions where roles are chosen, and destructive buttons
that look destructive and keep apart from harmless ones. Without scripts the same forms work
(the numbers, the textarea and the rows are what the server reads)."""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import create_flag, save_changes, shot, sign_up, turn_on


def stored(page: Any, org: str, flag: str, env: str = "production") -> dict[str, Any]:
    answer = page.request.get(
        f"/api/v1/orgs/{org}/projects/default/flags/{flag}/environments/{env}"
    )
    assert answer.status == 200, answer.text()
    return dict(answer.json())


def widths(page: Any, prefix: str) -> list[float]:
    rects = page.locator(f"#{prefix}-split rect.seg")
    return [float(rects.nth(i).get_attribute("width") or "nan") for i in range(rects.count())]


def test_a_rollout_is_drawn_as_a_bar_that_follows_the_numbers(new_context):
    page = new_context().new_page()
    org = sign_up(page, "bar@example.com", "Bea Bar")
    flag = create_flag(page, org, "Banner color", "string", ["blue", "green"])
    page.goto(f"/o/{org}/p/default/flags/{flag}?env=production")
    page.locator("#ft-serve").select_option("rollout")
    note = page.locator("#ft-split .split-note")
    page.locator("#ft-w0").fill("50")
    page.locator("#ft-w1").fill("")
    expect(note).to_have_text("50% unassigned: must add up to 100%")
    assert widths(page, "ft") == [50, 0]
    page.locator("#ft-w1").fill("37.5")
    expect(note).to_have_text("12.5% unassigned: must add up to 100%")
    assert widths(page, "ft") == [50, 37.5]
    page.locator("#ft-w1").fill("70")
    expect(note).to_have_text("20% too much: must add up to 100%")
    assert widths(page, "ft") == [50, 50]  # the bar stops at 100
    page.locator("#ft-w1").fill("50")
    expect(note).to_have_text("Adds up to 100%")
    shot(page, "editors-rollout-bar")
    save_changes(page)
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    weights = stored(page, org, flag)["fallthrough"]["rollout"]["weights"]
    assert weights == [{"variation": 0, "weight": 50000}, {"variation": 1, "weight": 50000}]
    # The page drawn by the server shows the same bar.
    assert widths(page, "ft") == [50, 50]
    expect(note).to_have_text("Adds up to 100%")


def test_without_scripts_the_rollout_numbers_still_save_and_the_server_draws_the_remainder(
    browser, server
):
    context = browser.new_context(base_url=server.url, java_script_enabled=False)
    context.set_default_timeout(5000)
    try:
        page = context.new_page()
        org = sign_up(page, "bar-noscript@example.com", "Nat Noscript")
        page.goto(f"/o/{org}/p/default/flags/new")
        page.get_by_label("Name", exact=True).fill("Plain rollout")
        page.get_by_label("Key", exact=True).fill("plain-rollout")
        page.get_by_role("button", name="Create flag", exact=True).click()
        page.wait_for_url(re.compile("/flags/plain-rollout$"))
        page.goto(f"/o/{org}/p/default/flags/plain-rollout?env=production")
        page.locator("#ft-serve").select_option("rollout")
        page.locator("#ft-w0").fill("30")
        page.locator("#ft-w1").fill("30")
        save_changes(page)
        expect(page.get_by_role("alert").first).to_contain_text("add up to 60, not 100")
        expect(page.locator("#ft-split .split-note")).to_have_text(
            "40% unassigned: must add up to 100%"
        )
        assert widths(page, "ft") == [30, 30]
        page.locator("#ft-w1").fill("70")
        save_changes(page)
        expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
        weights = stored(page, org, "plain-rollout")["fallthrough"]["rollout"]["weights"]
        assert [w["weight"] for w in weights] == [30000, 70000]
    finally:
        context.close()


def _paste(page: Any, selector: str, text: str) -> None:
    page.locator(selector).evaluate(
        """(el, text) => {
          const data = new DataTransfer();
          data.setData('text/plain', text);
          el.focus();
          el.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true,
                                                        cancelable: true}));
        }""",
        text,
    )


def test_clause_values_are_chips_typed_pasted_and_removed(new_context):
    page = new_context().new_page()
    org = sign_up(page, "chips@example.com", "Chip Chooser")
    flag = create_flag(page, org, "Regional", "boolean", [])
    page.goto(f"/o/{org}/p/default/flags/{flag}?env=production")
    page.get_by_role("button", name="Add a rule").click()
    page.get_by_label("Attribute of rule 1 clause 1").fill("country")
    entry = page.get_by_role("textbox", name="Add a value to rule 1 clause 1")
    entry.fill("DE")
    entry.press("Enter")
    entry.fill("FR")
    entry.press(",")
    chips = page.locator("#r0\\.c0-values + .chips .chip span")
    expect(chips).to_have_text(["DE", "FR"])
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_have_count(0)  # not sent
    _paste(page, "#r0\\.c0-values-add", "NL\nBE\tAT, CH\nDE")
    expect(chips).to_have_text(["DE", "FR", "NL", "BE", "AT", "CH"])  # no duplicate DE
    page.get_by_role("button", name="Remove value FR").click()
    expect(chips).to_have_text(["DE", "NL", "BE", "AT", "CH"])
    entry.press("Backspace")  # on an empty box: the last chip goes
    expect(chips).to_have_text(["DE", "NL", "BE", "AT"])
    # The field the server reads says the same, one value a line.
    expect(page.locator("#r0\\.c0-values")).to_have_value("DE\nNL\nBE\nAT")
    entry.fill("PL")  # typed, not yet a chip: sending the form keeps it
    shot(page, "editors-chips")
    save_changes(page)
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    clause = stored(page, org, flag)["rules"][0]["clauses"][0]
    assert clause["values"] == ["DE", "NL", "BE", "AT", "PL"]
    expect(chips).to_have_text(["DE", "NL", "BE", "AT", "PL"])


def _evaluate(page: Any) -> None:
    page.get_by_role("button", name="Evaluate in production").click()
    page.wait_for_load_state()


def test_a_context_is_built_from_a_key_and_attribute_rows_with_the_json_beside(new_context):
    page = new_context().new_page()
    org = sign_up(page, "ctx@example.com", "Cy Context")
    flag = create_flag(page, org, "Adults only", "boolean", [])
    page.goto(f"/o/{org}/p/default/flags/{flag}?env=production")
    turn_on(page)
    page.get_by_role("button", name="Add a rule").click()
    page.get_by_label("Attribute of rule 1 clause 1").fill("age")
    page.get_by_label("Operator of rule 1 clause 1").select_option("gte")
    page.get_by_label("Values of rule 1 clause 1").fill("18")
    page.get_by_label("Description of rule 1").fill("Grown-ups")
    save_changes(page)
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()

    page.get_by_label("Context key", exact=True).fill("u-1")
    page.get_by_label("Name of attribute 1").fill("age")
    page.get_by_label("Value of attribute 1").fill("42")
    page.get_by_label("Type of attribute 1").select_option("number")
    page.get_by_role("button", name="Add an attribute").click()
    expect(page.get_by_label("Name of attribute 2")).to_be_focused()
    page.get_by_label("Name of attribute 2").fill("beta")
    page.get_by_label("Value of attribute 2").fill("true")
    page.get_by_label("Type of attribute 2").select_option("boolean")
    page.get_by_text("Edit as JSON").click()
    raw = page.get_by_label("Context (JSON)")
    expect(raw).to_have_value(re.compile(".+"))
    assert json.loads(raw.input_value()) == {"key": "u-1", "age": 42, "beta": True}
    shot(page, "editors-test-context")
    _evaluate(page)
    expect(page.locator("#test-matched")).to_contain_text("Rule 1 “Grown-ups”")
    expect(page.locator("#test-value")).to_have_text("true")
    # The rows come back as sent.
    expect(page.get_by_label("Context key", exact=True)).to_have_value("u-1")
    expect(page.get_by_label("Value of attribute 1")).to_have_value("42")
    expect(page.get_by_label("Type of attribute 2")).to_have_value("boolean")

    # Typing JSON fills the rows; removing a row changes the JSON.
    page.get_by_text("Edit as JSON").click()
    raw.fill('{"key": "u-2", "age": 12, "plan": "free"}')
    expect(page.get_by_label("Context key", exact=True)).to_have_value("u-2")
    expect(page.get_by_label("Name of attribute 2")).to_have_value("plan")
    page.get_by_role("button", name="Remove attribute 2").click()
    assert json.loads(raw.input_value()) == {"key": "u-2", "age": 12}
    _evaluate(page)
    expect(page.locator("#test-matched")).to_contain_text("default rule")

    # A number row that is not a number is said so.
    page.get_by_label("Value of attribute 1").fill("twelve")
    _evaluate(page)
    expect(page.locator("#test-context .result .field-error")).to_contain_text("not a number")


def test_without_scripts_the_rows_or_the_edited_json_are_evaluated(browser, server):
    context = browser.new_context(base_url=server.url, java_script_enabled=False)
    context.set_default_timeout(5000)
    try:
        page = context.new_page()
        org = sign_up(page, "ctx-noscript@example.com", "Noa Script")
        page.goto(f"/o/{org}/p/default/flags/new")
        page.get_by_label("Name", exact=True).fill("Listed")
        page.get_by_label("Key", exact=True).fill("listed")
        page.get_by_role("button", name="Create flag", exact=True).click()
        page.wait_for_url(re.compile("/flags/listed$"))
        page.goto(f"/o/{org}/p/default/flags/listed?env=production")
        turn_on(page)
        page.get_by_label(re.compile("^Context keys served On")).fill("vip-9")
        save_changes(page)
        expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
        # The add and remove buttons need scripts; an empty row is there to fill instead.
        expect(page.get_by_role("button", name="Add an attribute")).to_be_hidden()
        page.get_by_label("Context key", exact=True).fill("vip-9")
        page.get_by_label("Name of attribute 1").fill("plan")
        page.get_by_label("Value of attribute 1").fill("pro")
        _evaluate(page)
        expect(page.locator("#test-reason")).to_have_text("TARGETING_MATCH")
        expect(page.get_by_label("Name of attribute 1")).to_have_value("plan")
        expect(page.get_by_label("Name of attribute 2")).to_have_value("")
        # The JSON, edited, wins over the rows it no longer matches.
        page.get_by_text("Edit as JSON").click()
        page.get_by_label("Context (JSON)").fill('{"key": "someone-else"}')
        _evaluate(page)
        expect(page.locator("#test-reason")).to_have_text("DEFAULT")
        expect(page.get_by_label("Context key", exact=True)).to_have_value("someone-else")
    finally:
        context.close()


def test_roles_say_what_each_may_do_where_they_are_chosen(new_context):
    other = new_context().new_page()
    sign_up(other, "roles-member@example.com", "Ria Member")
    page = new_context().new_page()
    org = sign_up(page, "roles-owner@example.com", "Rolf Owner")
    page.goto(f"/o/{org}/settings")
    for name in ("Their role", "Role"):
        chooser = page.get_by_label(name, exact=True)
        expect(chooser).to_have_accessible_description(re.compile("viewer.*changes nothing"))
        expect(chooser).to_have_accessible_description(re.compile("owner.*owner role"))
    expect(page.locator("#roles-invite")).to_contain_text("adds and removes members")
    page.get_by_label("Their email").fill("roles-member@example.com")
    page.get_by_label("Their role").select_option("admin")
    page.get_by_role("button", name="Add member").click()
    member_role = page.get_by_label("Role of roles-member@example.com")
    expect(member_role).to_have_accessible_description(re.compile("admin.*except owners"))
    page.get_by_text("What each role may do").click()
    expect(page.locator("#roles-members")).to_be_visible()
    shot(page, "editors-roles")


DESTRUCTIVE = re.compile(r"^(Delete|Archive|Revoke|Rotate|Remove (rule|clause|variation|\S+@))")


def _destructive_buttons(page: Any) -> list[dict[str, Any]]:
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('button, a.button')]
              .filter((b) => b.offsetParent !== null)
              .map((b) => ({text: b.textContent.trim(), danger: b.classList.contains('danger'),
                            color: getComputedStyle(b).color}))"""
        )
    )


def test_destructive_buttons_look_destructive_and_keep_apart(new_context):
    page = new_context().new_page()
    org = sign_up(page, "danger@example.com", "Dan Ger")
    flag = create_flag(page, org, "Doomed", "string", ["a", "b"])
    base = f"/o/{org}/p/default"
    page.goto(f"{base}/segments")
    page.get_by_label("Key", exact=True).fill("testers")
    page.get_by_role("button", name="Create segment").click()
    page.wait_for_load_state()
    page.goto(f"{base}/flags/{flag}?env=production")
    page.get_by_role("button", name="Add a rule").click()
    harmless_color = page.get_by_role("button", name="Add a rule").evaluate(
        "b => getComputedStyle(b).color"
    )
    seen = []
    for url in (
        f"{base}/flags/{flag}?env=production",
        f"{base}/flags/{flag}/variations",
        f"{base}/segments/testers?env=production",
        f"{base}/environments",
        f"{base}/settings",
        f"/o/{org}/settings",
    ):
        if url != f"{base}/flags/{flag}?env=production":
            page.goto(url)
        for button in _destructive_buttons(page):
            if DESTRUCTIVE.match(button["text"]):
                seen.append(button["text"])
                assert button["danger"], (url, button)
                assert button["color"] != harmless_color, (url, button)
    assert any(t.startswith("Archive flag") for t in seen)
    assert any(t.startswith("Rotate the client key") for t in seen)
    assert any(t.startswith("Remove rule 1") for t in seen)
    # On the segment page, Delete keeps its distance from Save.
    page.goto(f"{base}/segments/testers?env=production")
    save = page.get_by_role("button", name="Save segment").bounding_box()
    delete = page.get_by_role("button", name="Delete segment").bounding_box()
    assert save and delete and delete["x"] - (save["x"] + save["width"]) > 100
