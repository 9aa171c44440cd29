"""The environment page's snippets: code that runs as pasted, for one environment.

Each snippet uses a real flag of the project (`choose_flag`), the key kind its place calls for
(the server key on servers, the client key in browsers), the server's URL as the browser
reached it, and real keys only: the client key always (it is public), the server key only in
the one answer that shows it (just created or rotated). Otherwise the code reads the server key
from the environment variable `SERVER_KEY_VARIABLE` and says so: a key cut short never appears.

Install lines are the ones that work before any package is published: the release artifacts
that `make dist` builds (docs/sdk-python.md, docs/sdk-js.md); the browser needs none.
Everything here is text; the template escapes it.
"""

from __future__ import annotations

import html
import json
import shlex
from dataclasses import dataclass
from typing import Any

from .. import __version__
from ..jsassets import GLOBAL_NAME, asset

__all__ = ["SERVER_KEY_VARIABLE", "Snippet", "choose_flag", "snippets_for"]

SERVER_KEY_VARIABLE = "LAUNCHSEQ_SERVER_KEY"
CONTEXT_KEY = "user-123"

#: Pins of the OpenFeature packages the snippets were run with (tests/openfeature-node).
OPENFEATURE_NODE = "@openfeature/server-sdk@1.23.0 @openfeature/ofrep-provider@0.1.3"
OPENFEATURE_PYTHON = "openfeature-sdk>=0.10,<0.11"

_PY = {
    "boolean": ("bool_value", "False", "get_boolean_value"),
    "string": ("string_value", '""', "get_string_value"),
    "number": ("number_value", "0", "get_float_value"),
    "json": ("json_value", "None", "get_object_value"),
}
_JS = {
    "boolean": ("false", "getBooleanValue"),
    "string": ('""', "getStringValue"),
    "number": ("0", "getNumberValue"),
    "json": ("null", "getObjectValue"),
}
_OF_PY_DEFAULT = {"boolean": "False", "string": '""', "number": "0.0", "json": "{}"}
_OF_JS_DEFAULT = {"boolean": "false", "string": '""', "number": "0", "json": "{}"}

_PIP_SDK = (
    "# Not on PyPI yet: build the packages in a Launch Sequence checkout (docs/sdk-python.md)\n"
    "make dist\n"
    "# then, in your application's environment:\n"
    "pip install httpx{extra}\n"
    "pip install --no-index --find-links /path/to/launchsequence/dist launchsequence-sdk"
)
_NPM_REACT = (
    "# Not on npm yet: build the packages in a Launch Sequence checkout (docs/sdk-js.md)\n"
    "make dist\n"
    "# then, in your React project:\n"
    f"npm install /path/to/launchsequence/dist/launchsequence-js-{__version__}.tgz \\\n"
    f"  /path/to/launchsequence/dist/launchsequence-react-{__version__}.tgz"
)
_NPM_SDK = (
    "# Not on npm yet: build the package in a Launch Sequence checkout (docs/sdk-js.md)\n"
    "make dist\n"
    "# then, in your project:\n"
    f"npm install /path/to/launchsequence/dist/launchsequence-js-{__version__}.tgz"
)


@dataclass(frozen=True)
class Snippet:
    """One block of the page: `code` to paste, `install` to run first ("" for none), `run`
    (how to run the pasted code), `key_kind` (the kind of SDK key the code uses), and
    `reads_variable` (the code reads the server key from `SERVER_KEY_VARIABLE`)."""

    slug: str
    title: str
    key_kind: str
    code: str
    install: str = ""
    run: str = ""
    reads_variable: bool = False


def choose_flag(
    flags: list[dict[str, Any]], recent: list[str], env_key: str, *, client_side: bool
) -> dict[str, Any] | None:
    """The flag the snippets show: not archived, boolean if any is, the most recently changed
    (`recent`: flag keys, most recently changed first) else the newest. With `client_side`,
    only flags that client keys may see in `env_key`. None when no flag qualifies."""
    order = {key: i for i, key in reversed(list(enumerate(recent)))}
    candidates = [
        f
        for f in flags
        if not f.get("archived")
        and (not client_side or f.get("environments", {}).get(env_key, {}).get("client_side"))
    ]
    if not candidates:
        return None

    def rank(flag: dict[str, Any]) -> tuple[bool, int, int]:
        return (
            flag["type"] != "boolean",
            order.get(flag["key"], len(order)),
            -int(flag.get("updated_at") or 0),
        )

    return min(candidates, key=rank)


def _q(text: str) -> str:
    """A string literal that Python and JavaScript both read as `text`."""
    return json.dumps(text)


def _server_key_py(env_name: str, server_key: str | None) -> str:
    if server_key:
        return (
            f"SERVER_KEY = {_q(server_key)}  # {env_name}'s server key, shown once:"
            " move it to your secrets"
        )
    return f'SERVER_KEY = os.environ["{SERVER_KEY_VARIABLE}"]  # {env_name}\'s server key (secret)'


def _server_key_js(env_name: str, server_key: str | None) -> str:
    if server_key:
        return f"{_q(server_key)}, // {env_name}'s server key, shown once: move it to your secrets"
    return f"process.env.{SERVER_KEY_VARIABLE}, // {env_name}'s server key (secret)"


def python_sdk(base_url: str, env_name: str, flag: dict[str, Any], key: str | None) -> Snippet:
    getter, default, _ = _PY[flag["type"]]
    imports = "" if key else "import os\n\n"
    code = (
        f"{imports}from launchsequence_sdk import Client\n\n"
        f"{_server_key_py(env_name, key)}\n"
        f"FLAG = {_q(flag['key'])}\n"
        f'CONTEXT = {{"key": {_q(CONTEXT_KEY)}}}\n\n\n'
        "def show(flag: str = FLAG) -> None:\n"
        f'    print(flag, "=", client.{getter}(flag, CONTEXT, {default}), flush=True)\n\n\n'
        f"with Client(SERVER_KEY, base_url={_q(base_url)}) as client:\n"
        "    client.wait_until_ready(5)\n"
        "    show()\n"
        "    client.on_change(show, FLAG)  # live: each change prints the new value\n"
        '    input("Change the flag in the dashboard; press Enter to stop.\\n")'
    )
    return Snippet(
        "python",
        "Python SDK",
        "server",
        code,
        install=_PIP_SDK.format(extra=""),
        run="python flags.py",
        reads_variable=key is None,
    )


def node_sdk(base_url: str, env_name: str, flag: dict[str, Any], key: str | None) -> Snippet:
    default = _JS[flag["type"]][0]
    code = (
        'import { createServerClient } from "@launchsequence/js";\n\n'
        "// Server mode: the server evaluates each call (docs/sdk-js.md)\n"
        "const flags = createServerClient({\n"
        f"  serverKey: {_server_key_js(env_name, key)}\n"
        f"  baseUrl: {_q(base_url)},\n"
        "});\n"
        f"const flag = {_q(flag['key'])};\n"
        f'console.log(flag, "=", await flags.evaluate(flag, {{ key: {_q(CONTEXT_KEY)} }}, '
        f"{default}));\n"
        "flags.close();"
    )
    return Snippet(
        "node",
        "Node (JavaScript SDK, server mode)",
        "server",
        code,
        install=_NPM_SDK,
        run="node flags.mjs",
        reads_variable=key is None,
    )


def openfeature_python(
    base_url: str, env_name: str, flag: dict[str, Any], key: str | None
) -> Snippet:
    method = _PY[flag["type"]][2]
    default = _OF_PY_DEFAULT[flag["type"]]
    imports = "import os\n\n" if not key else ""
    code = (
        f"{imports}from launchsequence_sdk import Client\n"
        "from launchsequence_sdk.openfeature import LaunchSequenceProvider\n"
        "from openfeature import api\n"
        "from openfeature.evaluation_context import EvaluationContext\n\n"
        f"{_server_key_py(env_name, key)}\n"
        f"FLAG = {_q(flag['key'])}\n\n"
        "api.set_provider_and_wait(\n"
        f"    LaunchSequenceProvider(Client(SERVER_KEY, base_url={_q(base_url)}))\n"
        ")\n"
        f"context = EvaluationContext({_q(CONTEXT_KEY)})\n"
        f'print(FLAG, "=", api.get_client().{method}(FLAG, {default}, context))\n'
        "api.shutdown()"
    )
    return Snippet(
        "openfeature-python",
        "OpenFeature (Python)",
        "server",
        code,
        install=_PIP_SDK.format(extra=f" {shlex.quote(OPENFEATURE_PYTHON)}"),
        run="python flags_openfeature.py",
        reads_variable=key is None,
    )


def openfeature_node(
    base_url: str, env_name: str, flag: dict[str, Any], key: str | None
) -> Snippet:
    method = _JS[flag["type"]][1]
    default = _OF_JS_DEFAULT[flag["type"]]
    if key:
        auth = (
            f'[["Authorization", {_q("Bearer " + key)}]], // {env_name}\'s server key, shown once'
        )
    else:
        auth = (
            f'[["Authorization", `Bearer ${{process.env.{SERVER_KEY_VARIABLE}}}`]],'
            f" // {env_name}'s server key (secret)"
        )
    code = (
        'import { OpenFeature } from "@openfeature/server-sdk";\n'
        'import { OFREPProvider } from "@openfeature/ofrep-provider";\n\n'
        "await OpenFeature.setProviderAndWait(new OFREPProvider({\n"
        f"  baseUrl: {_q(base_url)},\n"
        f"  headers: {auth}\n"
        "}));\n"
        f"const flag = {_q(flag['key'])};\n"
        f"const value = await OpenFeature.getClient().{method}(flag, {default}, "
        f"{{ targetingKey: {_q(CONTEXT_KEY)} }});\n"
        'console.log(flag, "=", value);\n'
        "await OpenFeature.close();"
    )
    return Snippet(
        "openfeature-node",
        "OpenFeature (Node, OFREP)",
        "server",
        code,
        install=f"npm install {OPENFEATURE_NODE}",
        run="node flags-openfeature.mjs",
        reads_variable=key is None,
    )


def _shell_auth(env_name: str, key: str | None) -> tuple[str, str]:
    """A comment line (or none) and the value of the Authorization header, for curl."""
    if key:
        return f"# {env_name}'s server key, shown once: keep it secret\n", f"Bearer {key}"
    return (
        f"# {SERVER_KEY_VARIABLE}: {env_name}'s server key (secret; set it first)\n",
        f"Bearer ${SERVER_KEY_VARIABLE}",
    )


def curl_evaluate(base_url: str, env_name: str, flag: dict[str, Any], key: str | None) -> Snippet:
    comment, auth = _shell_auth(env_name, key)
    body = json.dumps({"context": {"key": CONTEXT_KEY}, "flags": [flag["key"]]})
    code = (
        f"{comment}curl -s {shlex.quote(base_url + '/sdk/v1/evaluate')} \\\n"
        f'  -H "Authorization: {auth}" \\\n'
        "  -H 'Content-Type: application/json' \\\n"
        f"  -d {shlex.quote(body)}"
    )
    return Snippet("curl", "curl (evaluate)", "server", code, reads_variable=key is None)


def curl_ofrep(base_url: str, env_name: str, flag: dict[str, Any], key: str | None) -> Snippet:
    comment, auth = _shell_auth(env_name, key)
    url = f"{base_url}/ofrep/v1/evaluate/flags/{flag['key']}"
    body = json.dumps({"context": {"targetingKey": CONTEXT_KEY}})
    code = (
        f"{comment}curl -s -X POST {shlex.quote(url)} \\\n"
        f'  -H "Authorization: {auth}" \\\n'
        "  -H 'Content-Type: application/json' \\\n"
        f"  -d {shlex.quote(body)}"
    )
    return Snippet("ofrep", "curl (OFREP)", "server", code, reads_variable=key is None)


def _shown(flag: dict[str, Any], expression: str) -> str:
    """JavaScript that turns the flag's value into the text a page shows."""
    return f"JSON.stringify({expression})" if flag["type"] == "json" else f"String({expression})"


def browser(base_url: str, flag: dict[str, Any], client_key: str) -> Snippet:
    """A classic script from this server, checked by its Subresource Integrity hash."""
    script = asset("classic")
    default = _JS[flag["type"]][0]
    shown = _shown(flag, f"flags.value({_q(flag['key'])}, {default})")
    code = (
        f'<p>{html.escape(flag["key"])} = <output id="flag-value">…</output></p>\n'
        f'<script src="{html.escape(base_url + script.url_path)}"\n'
        f'        integrity="{script.integrity}" crossorigin="anonymous"></script>\n'
        "<script>\n"
        f"  const flags = {GLOBAL_NAME}.createClient({{\n"
        f"    clientKey: {_q(client_key)}, // public: made for pages\n"
        f"    baseUrl: {_q(base_url)},\n"
        f"    context: {{ key: {_q(CONTEXT_KEY)} }},\n"
        "  });\n"
        "  const show = () => {\n"
        '    document.getElementById("flag-value").textContent =\n'
        f"      {shown};\n"
        "  };\n"
        "  flags.ready().then(show);\n"
        '  flags.on("change", show); // live: each change shows at once\n'
        "</script>"
    )
    return Snippet("browser", "Browser (no install)", "client", code)


def react(base_url: str, flag: dict[str, Any], client_key: str) -> Snippet:
    default = _JS[flag["type"]][0]
    value = _shown(flag, "value")
    code = (
        'import { LaunchSequenceProvider, useFlag } from "@launchsequence/react";\n\n'
        "function Flag() {\n"
        f"  const value = useFlag({_q(flag['key'])}, {default}); // re-renders on each change\n"
        f"  return <p>{flag['key']} = {{{value}}}</p>;\n"
        "}\n\n"
        "export default function App() {\n"
        "  return (\n"
        "    <LaunchSequenceProvider\n"
        f"      clientKey={_q(client_key)}\n"
        f"      baseUrl={_q(base_url)}\n"
        f"      context={{{{ key: {_q(CONTEXT_KEY)} }}}}\n"
        "    >\n"
        "      <Flag />\n"
        "    </LaunchSequenceProvider>\n"
        "  );\n"
        "}"
    )
    return Snippet("react", "React", "client", code, install=_NPM_REACT, run="App.jsx")


def snippets_for(
    *,
    base_url: str,
    env_name: str,
    flag: dict[str, Any],
    client_flag: dict[str, Any],
    client_key: str,
    server_key: str | None,
    with_react: bool = True,
) -> list[Snippet]:
    """Every snippet of one environment, in the order the page shows them. `server_key` is the
    full key when it is being shown (just created or rotated), else None; `client_flag` is
    the flag for client-key snippets (one that client keys may see, when there is one)."""
    server = [
        python_sdk(base_url, env_name, flag, server_key),
        node_sdk(base_url, env_name, flag, server_key),
    ]
    client = [browser(base_url, client_flag, client_key)]
    if with_react:
        client.append(react(base_url, client_flag, client_key))
    return [
        *server,
        *client,
        openfeature_python(base_url, env_name, flag, server_key),
        openfeature_node(base_url, env_name, flag, server_key),
        curl_evaluate(base_url, env_name, flag, server_key),
        curl_ofrep(base_url, env_name, flag, server_key),
    ]
