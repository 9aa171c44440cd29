// Launch Sequence dashboard: progressive enhancement only. Every form works without this file.
"use strict";

function csrfOf(form) {
  const field = form.querySelector('input[name="csrf_token"]');
  return field ? field.value : "";
}

// Flag switches: post the pressed switch with fetch and swap in what the server renders.
document.addEventListener("submit", async (event) => {
  const form = event.target;
  const button = event.submitter;
  if (!form.classList || !form.classList.contains("switch-form") || !button) return;
  event.preventDefault();
  button.setAttribute("aria-busy", "true");
  const row = button.closest("tr[data-flag]");
  try {
    const response = await fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form, button)),
      headers: { "X-Partial": row ? "row" : "none" },
      credentials: "same-origin",
    });
    if (!response.ok) throw new Error("HTTP " + response.status);
    if (row) {
      replaceRows(await response.text());
    } else {
      await refreshStatus();
    }
  } catch (err) {
    // Fall back to the plain form post, which shows any error as a page.
    const fallback = document.createElement("input");
    fallback.type = "hidden";
    fallback.name = button.name;
    fallback.value = button.value;
    form.appendChild(fallback);
    form.submit();
  } finally {
    button.removeAttribute("aria-busy");
  }
});

function replaceRows(html) {
  const template = document.createElement("template");
  template.innerHTML = html.trim();
  for (const fresh of template.content.querySelectorAll("tr[data-flag]")) {
    const old = document.getElementById(fresh.id);
    if (old) {
      const active = document.activeElement;
      const focused = active && old.contains(active) ? [...old.querySelectorAll("button")].indexOf(active) : -1;
      old.replaceWith(fresh);
      if (focused >= 0) {
        const again = fresh.querySelectorAll("button")[focused];
        if (again) again.focus();
      }
    }
  }
}

async function refreshRows() {
  const tbody = document.getElementById("flag-rows");
  if (!tbody) return;
  const response = await fetch(location.href, { headers: { "X-Partial": "rows" }, credentials: "same-origin" });
  if (response.ok) replaceRows(await response.text());
}

async function refreshStatus() {
  const status = document.getElementById("flag-status");
  if (!status) return;
  const response = await fetch(location.href, { headers: { "X-Partial": "status" }, credentials: "same-origin" });
  if (!response.ok) return;
  const template = document.createElement("template");
  template.innerHTML = (await response.text()).trim();
  const fresh = template.content.getElementById("flag-status");
  if (!fresh) return;
  const hadFocus = status.contains(document.activeElement);
  status.replaceWith(fresh);
  if (hadFocus) fresh.querySelector("button").focus();
  const live = fresh.closest("[data-live-version]");
  if (live && Number(fresh.dataset.version) > Number(live.dataset.liveVersion)) {
    const note = document.getElementById("changed-elsewhere");
    if (note) note.hidden = false;
  }
}

// Live updates: one SSE stream per page; any new version of an environment re-renders.
function startLive() {
  const live = document.querySelector("[data-live-org]");
  if (!live || !window.EventSource) return;
  const url = "/ui/events?org=" + encodeURIComponent(live.dataset.liveOrg) +
    "&project=" + encodeURIComponent(live.dataset.liveProject);
  const source = new EventSource(url);
  source.addEventListener("hello", () => { live.dataset.liveReady = "1"; });
  source.addEventListener("version", (event) => {
    const data = JSON.parse(event.data);
    if (live.dataset.liveEnv) {
      if (data.environment === live.dataset.liveEnv) refreshStatus();
    } else {
      refreshRows();
    }
  });
}

// Copy buttons.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const original = button.textContent;
  try {
    await navigator.clipboard.writeText(source.textContent);
    button.textContent = "Copied";
  } catch (err) {
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    button.textContent = "Selected: press Ctrl+C";
  }
  setTimeout(() => { button.textContent = original; }, 1500);
});

// JSON fields are checked as typed; the server checks them again.
function checkJson(field) {
  const message = document.getElementById(field.getAttribute("aria-describedby"));
  let problem = "";
  if (field.value.trim() !== "") {
    try { JSON.parse(field.value); } catch (err) { problem = "Not valid JSON: " + err.message; }
  }
  field.setCustomValidity(problem);
  field.setAttribute("aria-invalid", problem ? "true" : "false");
  if (message) message.textContent = problem;
  return !problem;
}
document.addEventListener("input", (event) => {
  if (event.target.matches && event.target.matches("[data-json]")) checkJson(event.target);
});
document.addEventListener("submit", (event) => {
  const form = event.target;
  const action = event.submitter ? event.submitter.value : "";
  if (action && action !== "create" && action !== "save") return;
  const bad = [...form.querySelectorAll("[data-json]")].filter((f) => !checkJson(f));
  if (bad.length) {
    event.preventDefault();
    bad[0].focus();
  }
});

// The key is suggested from the name until the user edits the key.
function slug(text) {
  return text.toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
    .replace(/[^a-z0-9._-]+/g, "-").replace(/^[^a-z0-9]+/, "").replace(/-+$/, "").slice(0, 64);
}
function keySuggestion() {
  const form = document.getElementById("new-flag");
  if (!form) return;
  const name = form.querySelector('[name="name"]');
  const key = form.querySelector('[name="key"]');
  let touched = key.value !== "" && key.value !== slug(name.value);
  key.addEventListener("input", () => { touched = key.value !== ""; });
  name.addEventListener("input", () => { if (!touched) key.value = slug(name.value); });
  const type = form.querySelector('[name="type"]');
  type.addEventListener("change", () => {
    const change = form.querySelector('button[value="change-type"]');
    if (change) change.click();
  });
}

// The rollout fields show only when a rollout is chosen.
function rollouts() {
  for (const select of document.querySelectorAll("select[data-serve]")) {
    const box = select.closest("fieldset").querySelector(".rollout");
    const sync = () => { box.hidden = select.value !== "rollout"; };
    select.addEventListener("change", sync);
    sync();
  }
}

document.addEventListener("DOMContentLoaded", () => {
  startLive();
  keySuggestion();
  rollouts();
});
