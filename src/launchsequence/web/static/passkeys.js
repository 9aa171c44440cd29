// Launch Sequence: passkeys (WebAuthn) for the forms marked data-passkey:
//   register       the account page's "Add a passkey" (navigator.credentials.create)
//   second-factor  "Use a passkey" after the password (navigator.credentials.get)
//   sign-in        "Sign in with a passkey" on the log-in page (navigator.credentials.get)
// Sending such a form first posts it (CSRF token, ticket, password) to its data-options URL,
// which answers the options with a fresh challenge; the browser asks the person's device;
// the answer goes into the form's hidden field and the form is sent as any other.
"use strict";

function bytesOf(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  const text = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(text, (c) => c.charCodeAt(0)).buffer;
}

function base64urlOf(buffer) {
  let text = "";
  for (const byte of new Uint8Array(buffer)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function withIds(list) {
  return (list || []).map((c) => ({ ...c, id: bytesOf(c.id) }));
}

function creationOptions(o) {
  return {
    ...o,
    challenge: bytesOf(o.challenge),
    user: { ...o.user, id: bytesOf(o.user.id) },
    excludeCredentials: withIds(o.excludeCredentials),
  };
}

function requestOptions(o) {
  return { ...o, challenge: bytesOf(o.challenge), allowCredentials: withIds(o.allowCredentials) };
}

// The credential as JSON, in the shape of PublicKeyCredential.toJSON() (WebAuthn level 3).
function credentialJson(credential) {
  const r = credential.response;
  const response = { clientDataJSON: base64urlOf(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = base64urlOf(r.attestationObject);
    response.transports = r.getTransports ? r.getTransports() : [];
  } else {
    response.authenticatorData = base64urlOf(r.authenticatorData);
    response.signature = base64urlOf(r.signature);
    if (r.userHandle) response.userHandle = base64urlOf(r.userHandle);
  }
  const out = {
    id: credential.id,
    rawId: base64urlOf(credential.rawId),
    type: credential.type,
    response,
    clientExtensionResults: credential.getClientExtensionResults(),
  };
  if (credential.authenticatorAttachment) {
    out.authenticatorAttachment = credential.authenticatorAttachment;
  }
  return JSON.stringify(out);
}

function say(form, message) {
  const alert = form.querySelector("#passkey-error");
  if (!alert) return;
  alert.textContent = message;
  alert.hidden = !message;
}

function problemOf(error) {
  if (error && error.name === "NotAllowedError") {
    return "The passkey request was cancelled or timed out. Try again.";
  }
  if (error && error.name === "InvalidStateError") {
    return "This passkey is registered already.";
  }
  return "Your browser could not use a passkey here" + (error && error.message ? `: ${error.message}` : ".");
}

async function usePasskey(form, kind, field, button) {
  const answer = await fetch(form.dataset.options, {
    method: "POST",
    body: new FormData(form),
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  const data = await answer.json().catch(() => null);
  if (!answer.ok || !data || !data.publicKey) {
    const message = data && data.error ? data.error.message : `The server answered ${answer.status}.`;
    say(form, message);
    return;
  }
  const credential = kind === "register"
    ? await navigator.credentials.create({ publicKey: creationOptions(data.publicKey) })
    : await navigator.credentials.get({ publicKey: requestOptions(data.publicKey) });
  field.value = credentialJson(credential);
  const password = form.querySelector("input[name=password_passkey]");
  if (password) password.value = ""; // asked for the options; not sent again
  button.setAttribute("aria-busy", "true");
  form.submit();
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  const kind = form.dataset ? form.dataset.passkey : undefined;
  if (!kind) return;
  const field = form.querySelector(kind === "second-factor" ? "input[name=passkey]" : "input[name=credential]");
  if (!field || field.value) return;
  event.preventDefault();
  if (!window.PublicKeyCredential || !navigator.credentials) {
    say(form, "This browser does not support passkeys.");
    return;
  }
  const button = event.submitter || form.querySelector("button[type=submit]");
  button.disabled = true;
  say(form, "");
  usePasskey(form, kind, field, button)
    .catch((error) => say(form, problemOf(error)))
    .finally(() => { button.disabled = false; });
});

// "Sign in with a passkey" shows only where the browser has passkeys.
for (const form of document.querySelectorAll("form[data-passkey=sign-in]")) {
  form.hidden = !window.PublicKeyCredential;
}
