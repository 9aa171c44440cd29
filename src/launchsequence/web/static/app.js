// Launch Sequence dashboard: progressive enhancement only. Every form works without this file.
"use strict";

// One change at a time per page: a switch's answer and a live refresh never overtake each
// other, so an older answer can never undo what a newer one showed.
let queue = Promise.resolve();
function serially(task) {
  const run = queue.then(task);
  queue = run.catch(() => {});
  return run;
}

// Any number of live events while a refresh waits in the queue make one refresh.
let refreshWaiting = false;
function scheduleRefresh() {
  if (refreshWaiting) return;
  refreshWaiting = true;
  serially(() => {
    refreshWaiting = false;
    return document.getElementById("flag-rows") ? refreshList() : refreshFlag(false);
  }).catch(() => {});
}

async function fetchPage(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  const html = await response.text();
  return { status: response.status, doc: new DOMParser().parseFromString(html, "text/html") };
}

// Replace `old` by `fresh` (from another document); focus stays on the same control.
function swapKeepingFocus(old, fresh) {
  if (!old || !fresh) return null;
  if (old.outerHTML === fresh.outerHTML) return old;
  const active = document.activeElement;
  const buttons = (el) => [...el.querySelectorAll("button, a, input, select, textarea")];
  const at = active && old.contains(active) ? buttons(old).indexOf(active) : -1;
  const adopted = document.importNode(fresh, true);
  old.replaceWith(adopted);
  if (at >= 0) {
    const again = buttons(adopted)[at];
    if (again) again.focus({ preventScroll: true });
  }
  return adopted;
}

// Environments that confirm changes: a dialog asks first, with an optional comment for the
// audit log. Resolves to the comment ("" for none) once confirmed, or null if cancelled; to
// NO_DIALOG where it cannot ask (no dialog on the page, or a browser without <dialog>): the
// caller then sends the form without `confirmed`, and the server's own page asks.
const NO_DIALOG = Symbol("no dialog");
function confirmChange(what, why, comment) {
  const dialog = document.getElementById("confirm-change");
  if (!dialog || typeof dialog.showModal !== "function") return Promise.resolve(NO_DIALOG);
  document.getElementById("confirm-change-what").textContent = what;
  document.getElementById("confirm-change-why").textContent = why;
  const input = document.getElementById("confirm-change-comment");
  input.value = comment || "";
  document.getElementById("confirm-change-ok").textContent = "Confirm";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "confirm" ? input.value : null);
    }, { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    input.focus();
  });
}

// Set (or add) a field of a form, as a hidden input when the form has none of that name.
function setField(form, name, value) {
  let field = form.querySelector('[name="' + name + '"]:not(button)');
  if (!field) {
    field = document.createElement("input");
    field.type = "hidden";
    field.name = name;
    form.appendChild(field);
  }
  field.value = value;
}

// Flag switches: post the pressed switch with fetch and swap in what the server renders. In an
// environment that confirms changes the dialog asks first; cancelled, nothing is sent.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const button = event.submitter;
  if (!form.classList || !form.classList.contains("switch-form") || !button) return;
  event.preventDefault();
  const [flag, env, turn] = button.value.split(" ");
  const asks = (form.dataset.confirmEnvs || "").split(" ").includes(env);
  if (!asks) {
    sendSwitch(form, button, null);
    return;
  }
  let envName = form.dataset.envName || env;
  try { envName = JSON.parse(form.dataset.envNames || "{}")[env] || envName; } catch (err) { /* keys */ }
  const row = button.closest("tr[data-flag]");
  const flagName = row ? row.querySelector("th a").textContent : document.querySelector("h1").textContent;
  const typed = form.querySelector('input[name="comment"]');
  confirmChange(
    "Turn " + flagName + " (" + flag + ") " + (turn === "1" ? "on" : "off") + " in " + envName + "?",
    envName + " asks to confirm each change: it applies to every application using it at once.",
    typed ? typed.value : "",
  ).then((comment) => {
    if (comment === null) {
      button.focus();
      return;
    }
    if (comment === NO_DIALOG) {
      // The plain form post, without `confirmed`: the server answers with its own question.
      setField(form, button.name, button.value);
      form.submit();
      return;
    }
    if (typed) typed.value = comment;
    sendSwitch(form, button, comment);
  });
});

// `comment`: null when no confirmation was asked; else the confirmed change's comment.
function sendSwitch(form, button, comment) {
  const row = button.closest("tr[data-flag]");
  const body = new URLSearchParams(new FormData(form, button));
  if (comment !== null) {
    body.set("confirmed", "1");
    body.set("comment", comment);
  }
  button.setAttribute("aria-busy", "true");
  serially(async () => {
    const response = await fetch(form.action, {
      method: "POST",
      body,
      headers: { "X-Partial": row ? "row" : "none" },
      credentials: "same-origin",
    });
    if (!response.ok) throw new Error("HTTP " + response.status);
    if (row) {
      replaceRows(await response.text());
    } else {
      ownToggle(Number(response.headers.get("X-Config-Version")));
      await refreshFlag(false);
    }
  }).catch(() => {
    // Fall back to the plain form post, which shows any error as a page.
    if (!form.isConnected) {
      location.reload();
      return;
    }
    setField(form, button.name, button.value);
    if (comment !== null) {
      setField(form, "confirmed", "1");
      setField(form, "comment", comment);
    }
    form.submit();
  }).finally(() => button.removeAttribute("aria-busy"));
}

function replaceRows(html) {
  const template = document.createElement("template");
  template.innerHTML = html.trim();
  for (const fresh of template.content.querySelectorAll("tr[data-flag]")) {
    swapKeepingFocus(document.getElementById(fresh.id), fresh);
  }
}

// The flag list: the rows, the count and the pages as the server now answers this very URL
// (search, filters and page kept), so flags others create, archive, restore or delete come
// and go too.
async function refreshList(quiet = false) {
  const rows = document.getElementById("flag-rows");
  if (!rows) return;
  const { status, doc } = await fetchPage(location.href);
  const fresh = doc.getElementById("flag-rows");
  if (status !== 200 || !fresh) return;
  const keys = (el) => [...el.querySelectorAll("tr[data-flag]")].map((tr) => tr.dataset.flag);
  const before = keys(rows);
  const after = keys(fresh);
  if (rows.innerHTML !== fresh.innerHTML) {
    const active = document.activeElement;
    const focusedRow = active && rows.contains(active) ? active.closest("tr[data-flag]") : null;
    const at = focusedRow ? [...focusedRow.querySelectorAll("button")].indexOf(active) : -1;
    rows.replaceChildren(...[...fresh.children].map((n) => document.importNode(n, true)));
    if (focusedRow) {
      const again = document.getElementById(focusedRow.id);
      // The focused row left the list: the count, which says what changed, takes focus.
      const target = again
        ? again.querySelectorAll("button")[at]
        : document.getElementById("flag-count");
      if (target) target.focus({ preventScroll: true });
    }
  }
  for (const id of ["flag-count", "flag-pager", "flag-head"]) {
    const mine = document.getElementById(id);
    const theirs = doc.getElementById(id);
    if (mine && theirs && mine.innerHTML !== theirs.innerHTML) mine.innerHTML = theirs.innerHTML;
  }
  const tag = document.getElementById("tag");
  const freshTag = doc.getElementById("tag");
  if (tag && freshTag && tag !== document.activeElement && tag.innerHTML !== freshTag.innerHTML) {
    const chosen = tag.value;
    tag.innerHTML = freshTag.innerHTML;
    if ([...tag.options].some((o) => o.value === chosen)) tag.value = chosen;
  }
  const added = after.filter((k) => !before.includes(k));
  const gone = before.filter((k) => !after.includes(k));
  const announce = document.getElementById("live-status");
  if (announce && !quiet && (added.length || gone.length)) {
    const parts = [];
    if (added.length) parts.push("Now listed: " + added.join(", ") + ".");
    if (gone.length) parts.push("No longer listed: " + gone.join(", ") + ".");
    announce.textContent = parts.join(" ");
  }
}

// The flag page. `data-live-version` on the live container is the configuration version the
// form shows (the hidden `version` input says the same to the server); `baseline` is the
// form's fields as loaded, to tell whether the user has edited them since.
let baseline = [];

// Not edits: the request's own fields, and the "test a context" box (which belongs to the
// form so that testing sends the form's current values).
const NOT_EDITS = ["csrf_token", "version", "draft_owner", "context"];
function fieldsOf(form) {
  const pairs = [];
  for (const [name, value] of new FormData(form)) {
    if (!NOT_EDITS.includes(name) && !name.startsWith("ctx.")) pairs.push([name, String(value)]);
  }
  return pairs;
}
function stateOf(pairs) {
  return pairs.map((p) => JSON.stringify(p)).sort().join("\n");
}
function configForm() {
  return document.querySelector("form.config");
}
function hasEdits(form) {
  return form.hasAttribute("data-edited") || stateOf(fieldsOf(form)) !== stateOf(baseline);
}
function flagLive() {
  return document.querySelector("[data-live-env]");
}

// This page's own switch: when it applied on top of the version the form shows, the form
// takes in the new version (the form holds no on/off of its own), so the switch is not
// mistaken for someone else's change and the next save is not refused. Otherwise someone else's
// change came first and `refreshFlag` deals with it.
function ownToggle(version) {
  const live = flagLive();
  const form = configForm();
  if (!live || !version || version !== Number(live.dataset.liveVersion) + 1) return;
  live.dataset.liveVersion = String(version);
  if (form) form.elements.version.value = String(version);
}

function showNote(id, text) {
  const note = document.getElementById(id);
  if (!note) return;
  if (text !== undefined) note.textContent = text;
  note.hidden = false;
}
function hideNote(id) {
  const note = document.getElementById(id);
  if (note) note.hidden = true;
}

// Re-read the flag page. The switch, the heading (archived or not) follow at once. The form
// takes someone else's change when it holds no edits of the user's (or `force`); otherwise
// the edits stay and a note offers to load the other change.
async function refreshFlag(force) {
  const live = flagLive();
  if (!live) return;
  const url = location.pathname + "?env=" + encodeURIComponent(live.dataset.liveEnv);
  const { status, doc } = await fetchPage(url);
  if (status === 404) {
    showNote("flag-gone");
    return;
  }
  const freshStatus = doc.getElementById("flag-status");
  if (status !== 200 || !freshStatus) return;
  swapKeepingFocus(document.getElementById("flag-status"), freshStatus);
  swapKeepingFocus(document.getElementById("flag-heading"), doc.getElementById("flag-heading"));
  const current = Number(freshStatus.dataset.version);
  const theirs = current > Number(live.dataset.liveVersion);
  const form = configForm();
  const fresh = doc.querySelector("form.config");
  if (form && fresh && (force || !hasEdits(form))) {
    if (force || theirs || stateOf(fieldsOf(fresh)) !== stateOf(baseline)) {
      swapForm(form, fresh);
      live.dataset.liveVersion = String(current);
      hideNote("changed-elsewhere");
      if (theirs) {
        showNote("updated-elsewhere", "Someone else changed this flag in " + live.dataset.liveEnv +
          ": the form below now shows their change (version " + current + ").");
      }
    }
  } else if (theirs) {
    showNote("changed-elsewhere");
  }
  live.dataset.liveChecked = String(current);
}

function swapForm(form, fresh) {
  const active = document.activeElement;
  const focusedId = active && form.contains(active) ? active.id : "";
  const y = window.scrollY;
  const adopted = document.importNode(fresh, true);
  form.replaceWith(adopted);
  rollouts(adopted);
  enhance(adopted);
  baseline = fieldsOf(adopted);
  window.scrollTo(window.scrollX, y);
  const again = focusedId && document.getElementById(focusedId);
  if (again && adopted.contains(again)) again.focus({ preventScroll: true });
}

function startFlagPage() {
  const live = flagLive();
  const form = configForm();
  if (!live || !form) return;
  baseline = fieldsOf(form);
  // Rendered after a refused save or a rule edit: the switch may already be newer than the
  // version the form was built on.
  const status = document.getElementById("flag-status");
  if (status && Number(status.dataset.version) > Number(live.dataset.liveVersion)) {
    showNote("changed-elsewhere");
  }
  const load = document.getElementById("load-theirs");
  if (load) {
    load.addEventListener("click", () => {
      const sure = !hasEdits(configForm()) ||
        window.confirm("Discard your unsaved edits and load their change?");
      if (!sure) return;
      serially(() => refreshFlag(true)).catch(() => {});
    });
  }
}

// Live updates: one SSE stream per page; any new version of an environment re-renders.
function startLive() {
  const live = document.querySelector("[data-live-org]");
  if (!live || !window.EventSource) return;
  const url = "/ui/events?org=" + encodeURIComponent(live.dataset.liveOrg) +
    "&project=" + encodeURIComponent(live.dataset.liveProject);
  const source = new EventSource(url);
  source.addEventListener("hello", () => {
    // A reconnect may have missed versions: look again.
    if (live.dataset.liveReady) scheduleRefresh();
    live.dataset.liveReady = "1";
  });
  source.addEventListener("version", (event) => {
    const data = JSON.parse(event.data);
    if (!live.dataset.liveEnv || data.environment === live.dataset.liveEnv) scheduleRefresh();
  });
}

// The first-steps checklist: while a step is left, ask again every few seconds (at most for
// half an hour, and not while the tab is hidden), so the first evaluation shows as it arrives.
// Stops for good once the list is gone from the page, once the server has none to show (204:
// dismissed elsewhere, or done), once the answer is a refusal, a missing page or no checklist
// at all (the session ended: a log-in page), and after a few failed asks in a row.
function startFirstSteps() {
  if (!document.querySelector("[data-first-steps-pending]")) return;
  const started = Date.now();
  let failures = 0;
  const stop = () => clearInterval(timer);
  const timer = setInterval(async () => {
    const box = document.getElementById("first-steps");
    if (!box || !box.isConnected || !box.hasAttribute("data-first-steps-pending") ||
        Date.now() - started > 30 * 60 * 1000 || failures >= 5) {
      stop();
      return;
    }
    if (document.hidden) return;
    try {
      const response = await fetch(location.pathname, {
        headers: { "X-Partial": "first-steps" },
        credentials: "same-origin",
        redirect: "manual",
      });
      if (response.status === 204) {
        box.remove();
        stop();
        return;
      }
      if (response.type === "opaqueredirect" || [401, 403, 404, 410].includes(response.status)) {
        stop();
        return;
      }
      if (!response.ok) {
        failures += 1;
        return;
      }
      failures = 0;
      const template = document.createElement("template");
      template.innerHTML = (await response.text()).trim();
      const fresh = template.content.getElementById("first-steps");
      if (!fresh) {
        stop();
        return;
      }
      if (box.isConnected) swapKeepingFocus(box, fresh);
    } catch (err) {
      failures += 1; // offline for a moment: the next round asks again
    }
  }, 4000);
}

// Copy buttons: hidden in the HTML (the text stays selectable without this file), shown here.
for (const button of document.querySelectorAll("button[data-copy][hidden]")) button.hidden = false;
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

// Saving the flag's configuration in an environment that confirms changes: the dialog asks
// first (the server asks on a page of its own without this file). Registered after the JSON
// check, so that a form it stopped never asks.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const button = event.submitter;
  if (event.defaultPrevented || !form.dataset || !form.dataset.confirmSave) return;
  if ((button ? button.value : "save") !== "save" || form.dataset.confirmed ||
      form.dataset.askedByServer) return;
  event.preventDefault();
  const env = form.dataset.confirmSave;
  const typed = form.querySelector('input[name="comment"]');
  confirmChange(
    "Save your changes to " + form.dataset.flagName + " in " + env + "?",
    env + " asks to confirm each change: they apply to every application using it at once.",
    typed ? typed.value : "",
  ).then((comment) => {
    if (comment === null) {
      if (button) button.focus();
      return;
    }
    if (comment === NO_DIALOG) {
      // Sent without `confirmed`: the server answers with the form and its own question.
      form.dataset.askedByServer = "1";
    } else {
      setField(form, "comment", comment);
      setField(form, "confirmed", "1");
      form.dataset.confirmed = "1";
    }
    // After this submit event has ended: a form ignores a request to submit made while it
    // is still firing one (the case where no dialog opened, and this ran at once).
    setTimeout(() => {
      if (button) form.requestSubmit(button);
      else form.requestSubmit();
    }, 0);
  });
});

// Leaving a page whose form holds unsaved edits (the flag page's configuration, a segment)
// asks first. Sending the form itself (to save, to test a context or to edit the rules) does
// not ask: the server answers with the edits. Registered after the JSON check, so that a send
// it stopped still counts as staying.
const keptForms = new Map(); // a form marked data-keep-edits -> its fields as loaded
function startKeptForms() {
  for (const form of document.querySelectorAll("form[data-keep-edits]")) {
    keptForms.set(form, stateOf(fieldsOf(form)));
  }
}
function unsavedEdits() {
  const form = configForm();
  if (form && !form.querySelector("fieldset[disabled]") && hasEdits(form)) return true;
  for (const [kept, loaded] of keptForms) {
    if (!kept.isConnected || kept.querySelector("fieldset[disabled]")) continue;
    if (kept.hasAttribute("data-edited") || stateOf(fieldsOf(kept)) !== loaded) return true;
  }
  return false;
}
let sendingEdits = false;
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!event.defaultPrevented && (form === configForm() || keptForms.has(form))) {
    sendingEdits = true;
  }
});
window.addEventListener("pageshow", () => { sendingEdits = false; });
window.addEventListener("beforeunload", (event) => {
  if (sendingEdits || !unsavedEdits()) return;
  event.preventDefault();
  event.returnValue = "";
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
function syncRollout(select) {
  const box = select.closest("fieldset").querySelector(".rollout");
  if (box) box.hidden = select.value !== "rollout";
}
function rollouts(root) {
  for (const select of root.querySelectorAll("select[data-serve]")) syncRollout(select);
}
document.addEventListener("change", (event) => {
  if (event.target.matches && event.target.matches("select[data-serve]")) syncRollout(event.target);
});

// The flag list filters as you type: the URL follows the form (so it can be shared and the
// back button works), and the rows, count, pages and headers are the server's answer to it.
function startFilters() {
  const form = document.querySelector("form.filters");
  if (!form || !document.getElementById("flag-rows")) return;
  let timer = null;
  const apply = () => {
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(form)) if (value) params.set(name, value);
    const url = location.pathname + (params.size ? "?" + params : "");
    if (url === location.pathname + location.search) return;
    history.replaceState(null, "", url);
    serially(() => refreshList(true)).catch(() => {});
  };
  const later = () => { clearTimeout(timer); timer = setTimeout(apply, 200); };
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  form.addEventListener("submit", (event) => { event.preventDefault(); clearTimeout(timer); apply(); });
}

// A rollout's bar: each variation's share drawn as typed, and what is left to assign (the
// server draws the same when it renders the page; rules_form.rollout_split).
function pctOf(raw) {
  const text = String(raw).trim();
  const n = text === "" ? 0 : Number(text);
  return Number.isFinite(n) && n > 0 ? n : 0;
}
function drawSplit(box) {
  const inputs = [...box.querySelectorAll(".pct input[name*='.w']")];
  const rects = box.querySelectorAll(".split-bar rect.seg");
  const note = box.querySelector(".split-note");
  let total = 0;
  inputs.forEach((input, k) => {
    const pct = pctOf(input.value);
    const start = Math.min(total, 100);
    if (rects[k]) {
      rects[k].setAttribute("x", String(start));
      rects[k].setAttribute("width", String(Math.min(pct, 100 - start)));
    }
    total += pct;
  });
  const round = (n) => String(Math.round(n * 1000) / 1000);
  total = Math.round(total * 1000) / 1000;
  if (!note) return;
  if (total === 100) note.textContent = "Adds up to 100%";
  else if (total < 100) note.textContent = round(100 - total) + "% unassigned: must add up to 100%";
  else note.textContent = round(total - 100) + "% too much: must add up to 100%";
  note.classList.toggle("off", total !== 100);
}
document.addEventListener("input", (event) => {
  const box = event.target.closest && event.target.closest("[data-rollout]");
  if (box && event.target.matches(".pct input")) drawSplit(box);
});

// Clause values as chips. The textarea (one value a line) stays what the server reads: the
// chips are drawn from it and every change is written back to it.
function splitValues(text) {
  return text.split(/[\n\r\t,]+/).map((v) => v.trim()).filter(Boolean);
}
function chips(area) {
  if (area.dataset.chipsReady || area.closest("fieldset[disabled]")) return;
  area.dataset.chipsReady = "1";
  const box = document.createElement("div");
  box.className = "chips";
  const list = document.createElement("ul");
  list.className = "chip-list";
  const input = document.createElement("input");
  input.id = area.id + "-add";
  input.className = "chip-input";
  input.autocomplete = "off";
  input.setAttribute("enterkeyhint", "enter");
  // The textarea keeps its label and stays reachable to what types into it (it redraws the
  // chips); people use the chips and the box beside them.
  const label = document.querySelector('label[for="' + area.id + '"]');
  // Named apart from the textarea's label, so that the label names one field only.
  const what = label ? label.textContent.trim().replace(/^Values of /i, "") : "this clause";
  input.setAttribute("aria-label", "Add a value to " + what);
  list.setAttribute("aria-label", "Chosen for " + what);
  for (const attr of ["aria-invalid", "aria-describedby"]) {
    if (area.hasAttribute(attr)) input.setAttribute(attr, area.getAttribute(attr));
  }
  input.placeholder = "Add a value";
  input.title = "Enter or a comma adds a value; pasting many adds them all";
  box.append(list, input);
  area.classList.add("visually-hidden");
  area.tabIndex = -1;
  area.after(box);
  const values = () => area.value.split(/\r?\n/).map((v) => v.trim()).filter(Boolean);
  const draw = () => {
    list.replaceChildren(...values().map((value, i) => {
      const item = document.createElement("li");
      item.className = "chip";
      const text = document.createElement("span");
      text.textContent = value;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "chip-remove";
      remove.textContent = "\u00d7";
      remove.setAttribute("aria-label", "Remove value " + value);
      remove.dataset.index = String(i);
      item.append(text, remove);
      return item;
    }));
  };
  const store = (next) => {
    area.value = next.join("\n");
    area.dispatchEvent(new Event("input", { bubbles: true }));
  };
  const add = (text) => {
    const next = values();
    for (const v of splitValues(text)) if (!next.includes(v)) next.push(v);
    store(next);
    input.value = "";
  };
  area.addEventListener("input", draw);
  if (label) {
    label.addEventListener("click", (event) => { event.preventDefault(); input.focus(); });
  }
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === ",") {
      event.preventDefault();
      if (input.value.trim()) add(input.value);
    } else if (event.key === "Backspace" && input.value === "" && values().length) {
      store(values().slice(0, -1));
    }
  });
  input.addEventListener("paste", (event) => {
    const text = (event.clipboardData || window.clipboardData).getData("text");
    if (!/[\n\r\t,]/.test(text)) return;
    event.preventDefault();
    add(input.value + text);
  });
  input.addEventListener("blur", () => { if (input.value.trim()) add(input.value); });
  list.addEventListener("click", (event) => {
    const remove = event.target.closest(".chip-remove");
    if (!remove) return;
    const next = values();
    next.splice(Number(remove.dataset.index), 1);
    store(next);
    input.focus();
  });
  draw();
}
// A value still being typed when the form is sent is a value too.
document.addEventListener("submit", (event) => {
  for (const input of event.target.querySelectorAll(".chip-input")) input.blur();
}, true);

// "Test a context": the key and attribute rows and the raw JSON say the same; whichever is
// typed in updates the other (context_form.py says which the server reads).
function ctxRows(panel) {
  return [...panel.querySelectorAll("[data-ctx-rows] tbody tr")].map((tr) => ({
    name: tr.querySelector('[name$=".name"]').value,
    value: tr.querySelector('[name$=".value"]').value,
    type: tr.querySelector('[name$=".type"]').value,
  }));
}
function ctxField(panel, name) {
  return panel.querySelector('[name="' + name + '"]');
}
function ctxBuild(panel) {
  const context = {};
  const key = ctxField(panel, "ctx.key").value;
  if (key) context.key = key;
  for (const row of ctxRows(panel)) {
    const name = row.name.trim();
    if (!name) continue;
    if (row.type === "number") {
      const n = row.value.trim() === "" ? NaN : Number(row.value);
      context[name] = Number.isFinite(n) ? n : row.value;
    } else if (row.type === "boolean") {
      const b = row.value.trim().toLowerCase();
      context[name] = b === "true" ? true : b === "false" ? false : row.value;
    } else {
      context[name] = row.value;
    }
  }
  return context;
}
function ctxDraw(panel, rows) {
  const body = panel.querySelector("[data-ctx-rows] tbody");
  const template = body.querySelector("tr");
  const fresh = rows.map((row, i) => {
    const tr = template.cloneNode(true);
    for (const [part, value] of [["name", row.name], ["value", row.value], ["type", row.type]]) {
      const field = tr.querySelector('[name$=".' + part + '"]');
      field.name = "ctx.a" + i + "." + part;
      field.id = "ctx-a" + i + "-" + part;
      field.value = value;
      const label = tr.querySelector('label[for$="-' + part + '"]');
      label.htmlFor = field.id;
      label.textContent = label.textContent.replace(/\d+$/, String(i + 1));
    }
    const remove = tr.querySelector("[data-ctx-remove]");
    remove.hidden = false;
    remove.textContent = "Remove attribute " + (i + 1);
    return tr;
  });
  body.replaceChildren(...fresh);
  ctxField(panel, "ctx.rows").value = String(rows.length);
}
function ctxToJson(panel) {
  const text = JSON.stringify(ctxBuild(panel));
  const raw = ctxField(panel, "context");
  raw.value = text;
  ctxField(panel, "ctx.built").value = text;
  checkJson(raw);
}
function ctxFromJson(panel) {
  let value;
  try { value = JSON.parse(ctxField(panel, "context").value); } catch (err) { return; }
  if (!value || typeof value !== "object" || Array.isArray(value)) return;
  const rows = [];
  let key = "";
  for (const [name, item] of Object.entries(value)) {
    if (name === "key" && typeof item === "string") { key = item; continue; }
    const type = typeof item === "boolean" ? "boolean" : typeof item === "number" ? "number"
      : typeof item === "string" ? "string" : null;
    if (!type || !name || name.trim() !== name) return; // only the JSON can hold this one
    rows.push({ name, value: String(item), type });
  }
  rows.push({ name: "", value: "", type: "string" });
  ctxField(panel, "ctx.key").value = key;
  ctxDraw(panel, rows);
  ctxField(panel, "ctx.built").value = JSON.stringify(ctxBuild(panel));
}
function startContextPanel(panel) {
  if (panel.dataset.ctxReady) return;
  panel.dataset.ctxReady = "1";
  for (const button of panel.querySelectorAll("[data-ctx-add], [data-ctx-remove]")) button.hidden = false;
  panel.addEventListener("input", (event) => {
    if (event.target.name === "context") ctxFromJson(panel);
    else if (event.target.name && event.target.name.startsWith("ctx.")) ctxToJson(panel);
  });
  panel.addEventListener("change", (event) => {
    if (event.target.name && event.target.name.endsWith(".type")) ctxToJson(panel);
  });
  panel.addEventListener("click", (event) => {
    const add = event.target.closest("[data-ctx-add]");
    const remove = event.target.closest("[data-ctx-remove]");
    if (!add && !remove) return;
    const rows = ctxRows(panel);
    let focus;
    if (add) {
      rows.push({ name: "", value: "", type: "string" });
      focus = rows.length - 1;
    } else {
      const at = [...panel.querySelectorAll("[data-ctx-remove]")].indexOf(remove);
      rows.splice(at, 1);
      if (!rows.length) rows.push({ name: "", value: "", type: "string" });
      focus = Math.min(at, rows.length - 1);
    }
    ctxDraw(panel, rows);
    ctxToJson(panel);
    const again = panel.querySelector("#ctx-a" + focus + "-name");
    if (again) again.focus();
  });
}

function enhance(root) {
  for (const area of root.querySelectorAll("textarea[data-chips]")) chips(area);
  for (const box of root.querySelectorAll("[data-rollout]")) drawSplit(box);
}

document.addEventListener("DOMContentLoaded", () => {
  rollouts(document);
  enhance(document);
  for (const panel of document.querySelectorAll("[data-ctx]")) startContextPanel(panel);
  startFilters();
  startFlagPage();
  startKeptForms();
  startLive();
  startFirstSteps();
  keySuggestion();
});
