"""Every snippet of the environment page, copied from the rendered page with its copy button
(the clipboard, with the browser's permission) and run as pasted against the live server:
Python in a subprocess of this venv (the SDK is installed there), Node in a fresh Node project
with the SDK installed from sdks/ and the OpenFeature packages by the snippet's own install
line, curl with curl, the browser snippet in a page of another origin in Chromium, and the
React one rendered by React in Node. Each shows the flag's value, and a new one after the flag
is switched in the dashboard's API: live where the snippet streams, on the next run otherwise.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, log_in, shot
from tests.support.api import ApiUser, signup
from tests.support.live import free_port

REPO = Path(__file__).resolve().parents[2]
FLAG = "new-checkout"
#: Pins of the packages the React snippet's test renders with (sdks/react/package.json's).
REACT_RENDER = ["react@19.3.1", "react-dom@19.3.1", "happy-dom@21.0.4", "esbuild@0.28.2"]
WAIT = 20.0  # seconds for any one expected output

# React in Node: a DOM (happy-dom) for react-dom, the pasted App.jsx compiled by esbuild, and
# the rendered text printed each time it changes.
RENDER_REACT = """
import { Window } from "happy-dom";
const window = new Window({ url: "http://127.0.0.1/" });
globalThis.window = window;
for (const name of ["document", "HTMLElement", "HTMLIFrameElement", "MutationObserver"]) {
  globalThis[name] = window[name];
}
if (!globalThis.navigator) globalThis.navigator = window.navigator; // Node 20 has none
const { readFileSync, writeFileSync } = await import("node:fs");
const esbuild = await import("esbuild");
const source = readFileSync("App.jsx", "utf8");
const out = esbuild.transformSync(source, { loader: "jsx", jsx: "automatic", format: "esm" });
writeFileSync("App.mjs", out.code);
const { createElement } = await import("react");
const { createRoot } = await import("react-dom/client");
const { default: App } = await import("./App.mjs");
const root = document.createElement("div");
document.body.appendChild(root);
createRoot(root).render(createElement(App));
let last = null;
setInterval(() => {
  const text = root.textContent;
  if (text && text !== last) { last = text; console.log(text); }
}, 20);
"""


class Lines:
    """The lines a process prints, read by a thread so that every wait is bounded."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert process.stdout is not None
        threading.Thread(target=self._read, args=(process.stdout,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, wanted: str) -> None:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            if line == wanted:
                return
        stderr = self.process.stderr.read() if self.process.poll() is not None else ""
        raise AssertionError(f"never printed {wanted!r}; printed {self.seen!r} {stderr}")


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=300, env=env, check=False
    )
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


@contextlib.contextmanager
def _started(args: list[str], cwd: Path, **kwargs: Any) -> Iterator[Lines]:
    process = subprocess.Popen(
        args,
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )
    try:
        yield Lines(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        pass


@contextlib.contextmanager
def _static_site(root: Path) -> Iterator[str]:
    """A plain HTTP server for `root` on loopback: a page on another origin than Launch
    Sequence, as a user's own site is."""
    handler = functools.partial(_QuietFiles, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _copied(page: Any, env: str, slug: str) -> str:
    """Copy one snippet with its button; the clipboard must hold exactly the shown text."""
    block = page.locator(f"#snip-{env}-{slug}")
    button = page.locator(f'button[data-copy="snip-{env}-{slug}"]')
    expect(button).to_be_visible()
    button.click()
    expect(button).to_have_text("Copied")
    copied = str(page.evaluate("navigator.clipboard.readText()"))
    assert copied == block.text_content(), f"the {slug} snippet copies what it shows"
    return copied


def _node_project(root: Path, install_line: str, with_react: bool) -> Path:
    """A fresh Node project: the JS SDK (and the React binding) from this repository, the
    OpenFeature packages by the snippet's own install line."""
    project = root / "node-app"
    project.mkdir()
    (project / "package.json").write_text('{"private": true, "type": "module"}\n')
    npm = ["npm", "--no-audit", "--no-fund", "--loglevel=error"]
    local = [str(REPO / "sdks" / "js")]
    if with_react:
        # A packed copy (not a link), so that it imports the project's one React.
        _run([*npm, "pack", str(REPO / "sdks" / "react"), "--pack-destination", str(root)], root)
        local += [str(p) for p in root.glob("launchsequence-react-*.tgz")]
        local += REACT_RENDER
    _run([*npm, "install", *local], project)
    assert install_line.startswith("npm install ")
    _run([*npm, "install", *install_line.split()[2:]], project)
    return project


def test_every_snippet_runs_as_pasted(new_context, server, tmp_path):
    for tool in ("node", "npm", "curl"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: the snippets cannot all be run")
    react_here = (REPO / "sdks" / "react" / "package.json").exists()
    user = signup(server.url, "paste@example.com", password=PASSWORD)
    flags = f"/api/v1/orgs/{user.org}/projects/default/flags"
    made = user.post(flags, json={"key": FLAG, "name": "New checkout", "client_side": True})
    assert made.status_code == 201, made.text
    _switch(user, True)

    context = new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page = context.new_page()
    log_in(page, user.email)
    page.goto(f"/o/{user.org}/p/default/environments")
    page.get_by_role("button", name="Create the server key of Production").click()
    server_key = page.locator("#revealed-key").inner_text()
    assert server_key.startswith("ls_srv_")
    shot(page, "snippets-environment")
    slugs = ["python", "node", "browser", "openfeature-python", "openfeature-node", "curl"]
    slugs += ["ofrep", *(["react"] if react_here else [])]
    code = {slug: _copied(page, "production", slug) for slug in slugs}
    for slug in ("python", "node", "openfeature-python", "openfeature-node", "curl", "ofrep"):
        assert server_key in code[slug], f"the {slug} snippet runs with the key it shows"
    install = page.locator("#snip-production-openfeature-node-install").text_content() or ""
    project = _node_project(tmp_path, install, react_here)

    # Environment of the subprocesses: nothing of ours, in particular no LAUNCHSEQ_SERVER_KEY.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAUNCHSEQ_")}
    (tmp_path / "flags.py").write_text(code["python"])
    (tmp_path / "flags_openfeature.py").write_text(code["openfeature-python"])
    (project / "flags.mjs").write_text(code["node"])
    (project / "flags-openfeature.mjs").write_text(code["openfeature-node"])
    (tmp_path / "site").mkdir()
    page_html = f"<!doctype html><html><body>{code['browser']}</body></html>"
    (tmp_path / "site" / "index.html").write_text(page_html)

    def once(value: str) -> None:
        """The snippets that answer once, run again: each prints the flag's value now."""
        py, js = ("True" if value == "true" else "False"), value
        ran = _run([sys.executable, "flags_openfeature.py"], tmp_path, env)
        assert ran.splitlines()[-1] == f"{FLAG} = {py}", ran
        for name in ("flags.mjs", "flags-openfeature.mjs"):
            assert _run(["node", name], project, env).splitlines()[-1] == f"{FLAG} = {js}"
        evaluated = json.loads(_run(["sh", "-c", code["curl"]], tmp_path, env))
        assert evaluated["flags"][FLAG]["value"] is (value == "true")
        ofrep = json.loads(_run(["sh", "-c", code["ofrep"]], tmp_path, env))
        assert (ofrep["key"], ofrep["value"]) == (FLAG, value == "true")

    browser_page = context.new_page()
    with contextlib.ExitStack() as running:
        python = running.enter_context(_started([sys.executable, "flags.py"], tmp_path, env=env))
        react = None
        if react_here:
            (project / "App.jsx").write_text(code["react"])
            (project / "render.mjs").write_text(RENDER_REACT)
            react = running.enter_context(_started(["node", "render.mjs"], project, env=env))
        site = running.enter_context(_static_site(tmp_path / "site"))
        browser_page.goto(site)
        shown = browser_page.locator("#flag-value")

        python.wait_for(f"{FLAG} = True")
        expect(shown).to_have_text("true", timeout=WAIT * 1000)
        if react:
            react.wait_for(f"{FLAG} = true")
        once("true")

        _switch(user, False)  # the streaming snippets follow at once, the others on a new run
        python.wait_for(f"{FLAG} = False")
        expect(shown).to_have_text("false", timeout=WAIT * 1000)
        if react:
            react.wait_for(f"{FLAG} = false")
        once("false")

        assert python.process.stdin is not None
        python.process.stdin.write("\n")  # "press Enter to stop"
        python.process.stdin.flush()
        assert python.process.wait(timeout=WAIT) == 0
    if not react_here:
        pytest.skip("sdks/react is not in this checkout: the React snippet was not run")


def _switch(user: ApiUser, on: bool) -> None:
    path = f"/api/v1/orgs/{user.org}/projects/default/flags/{FLAG}/environments/production"
    answer = user.patch(path, json={"on": on})
    assert answer.status_code == 200, answer.text
