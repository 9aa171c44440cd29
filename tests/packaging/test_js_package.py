"""The JS SDK's npm package as a user gets it: `npm pack` from the files a clean checkout has
(prepack builds the CommonJS build and its types with the pinned esbuild), installed alone into
a fresh Node project, then a flag evaluated against a live server through `import`, through
`require()` under Node 18's rules (`--no-experimental-require-module`: no require(esm)), and
through TypeScript, type-checked with `module: commonjs` and with `module: nodenext` (using every
type the package exports) and run."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.packaging.test_dist import VERSION, served_flag
from tests.packaging.test_install import clean_context
from tests.support.live import LiveServer

ROOT = Path(__file__).resolve().parents[2]
DTS = ROOT / "sdks" / "js" / "src" / "index.d.ts"

#: Uses every name src/index.d.ts exports (checked below), typed on purpose: a wrong
#: declaration fails the type-check, and each @ts-expect-error fails if the types were too loose.
TYPED = """
import launchsequence, {
  backoffDelay, createClient, createServerClient, createSseParser, createTestClient,
  encodeContext, parseRetryAfter,
} from '@launchsequence/js';
import type {
  CacheStorage, ClientOptions, Context, ErrorCode, EvaluationDetails, FlagChange, FlagEntry,
  FlagState, LaunchSequenceClient, LaunchSequenceServerClient, LaunchSequenceTestClient, Logger,
  OfflineClientOptions, Reason, ServerClientOptions, SseEvent, TestClientOptions,
  TestValueDetails,
} from '@launchsequence/js';

declare const process: { argv: string[] }; // no @types/node: nothing but the package
const [serverKey, baseUrl] = process.argv.slice(2);
const context: Context = { key: 'user-1', plan: 'pro' };
const logger: Logger = { warn: () => {} };
const storage: CacheStorage = { getItem: () => null, setItem: () => {} };
const entry: FlagEntry = { value: true, variation: 0, variant: 'on', reason: 'STATIC' };
const state: FlagState = { version: 1, flags: { packaged: entry } };
const clientOptions: ClientOptions = {
  clientKey: 'ls_cli_x', baseUrl, context, bootstrap: state, storage, logger, offline: true,
};
const offline: OfflineClientOptions = { offline: true, bootstrap: state };
const client: LaunchSequenceClient = createClient(offline);
const fromOptions: LaunchSequenceClient = launchsequence.createClient(clientOptions);
fromOptions.close();
client.on('change', (changes: Record<string, FlagChange>) => void changes);
const testOptions: TestClientOptions = { context, logger: null };
const valueDetails: TestValueDetails = { variation: 1, reason: 'TARGETING_MATCH' };
const tested: LaunchSequenceTestClient = createTestClient({ packaged: false }, testOptions);
tested.set('packaged', true, valueDetails).delete('gone');
const reason: Reason = tested.details('packaged', false).reason;
const code: ErrorCode | undefined = tested.details('gone', false).errorCode;
const events: SseEvent[] = [];
createSseParser((e: SseEvent) => events.push(e)).push('data: x\\n\\n');
const waits: number[] = [backoffDelay(1), parseRetryAfter('2') ?? 0, encodeContext(context).length];
// @ts-expect-error: a server client needs its server key
createServerClient({ baseUrl });
// @ts-expect-error: value() answers the type of its default
const wrong: string = client.value('packaged', false);

async function main(): Promise<void> {
  const options: ServerClientOptions = { serverKey, baseUrl, timeout: 5000, logger };
  const server: LaunchSequenceServerClient = createServerClient(options);
  const details: EvaluationDetails<boolean> = await server.details('packaged', context, false);
  const value: boolean = await server.evaluate('packaged', context, false);
  server.close();
  console.log(JSON.stringify({ value, reason: details.reason, test: tested.value('packaged', false),
    offline: client.value('packaged', false), events: events.length, waits: waits.length,
    checked: [reason, code, wrong === undefined] }));
}
main();
"""


def run(args: list[str], cwd: Path, timeout: int = 300) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_typed_program_uses_every_export_of_the_declarations() -> None:
    declared = set(
        re.findall(
            r"^export (?:interface|type|function|declare const) (\w+)",
            DTS.read_text(),
            flags=re.MULTILINE,
        )
    )
    assert {"createClient", "Context", "SseEvent"} <= declared
    used = set(re.findall(r"\b\w+\b", TYPED.split("from '@launchsequence/js';\n", 2)[2]))
    assert declared - used == set(), "use each new export in TYPED"
    assert "export default" in DTS.read_text()


@pytest.mark.slow
def test_the_packed_tarball_evaluates_via_import_require_and_typescript(
    tmp_path: Path, live: LiveServer
) -> None:
    npm = shutil.which("npm")
    assert npm is not None, "npm is needed to test the JS package"
    sdk = clean_context(tmp_path / "checkout", ("sdks/js",)) / "sdks" / "js"
    assert not (sdk / "dist").exists()  # nothing built is committed
    run([npm, "ci", "--no-audit", "--no-fund"], sdk)
    run([npm, "pack", "--silent", "--pack-destination", str(tmp_path)], sdk)
    tarball = tmp_path / f"launchsequence-js-{VERSION}.tgz"
    with tarfile.open(tarball) as packed:
        names = {m.name.removeprefix("package/") for m in packed.getmembers()}
    assert {"dist/index.cjs", "dist/index.d.cts", "src/index.js", "src/index.d.ts"} <= names
    assert {"src/client.js", "LICENSE", "README.md", "package.json"} <= names
    assert not any(n.startswith(("test/", "scripts/", "node_modules/")) for n in names), names

    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text(json.dumps({"name": "app", "private": True}))
    run([npm, "install", "--no-audit", "--no-fund", str(tarball)], app)
    assert sorted(p.name for p in (app / "node_modules").iterdir() if p.name[0] != ".") == [
        "@launchsequence"
    ]  # no dependencies come with it
    key = served_flag(live)

    esm = (
        "import { createServerClient } from '@launchsequence/js';\n"
        "const [key, baseUrl] = process.argv.slice(1);\n"
        "const client = createServerClient({ serverKey: key, baseUrl });\n"
        "console.log(await client.evaluate('packaged', { key: 'user-1' }, false));\n"
    )
    out = run(["node", "--input-type=module", "-e", esm, key, live.url], app, 60)
    assert out.strip() == "true"

    cjs = (
        "const { createServerClient } = require('@launchsequence/js');\n"
        "console.log(require.resolve('@launchsequence/js'));\n"
        "const [key, baseUrl] = process.argv.slice(1);\n"
        "createServerClient({ serverKey: key, baseUrl })\n"
        "  .evaluate('packaged', { key: 'user-1' }, false).then(console.log);\n"
    )
    node18 = ["node", "--no-experimental-require-module"]
    out = run([*node18, "-e", cjs, key, live.url], app, 60)
    assert out.split() == [str(app / "node_modules/@launchsequence/js/dist/index.cjs"), "true"]

    tsc = ["node", str(sdk / "node_modules" / "typescript" / "bin" / "tsc")]  # pinned there
    (app / "app.ts").write_text(TYPED)
    (app / "app.mts").write_text(TYPED)  # an ES module under nodenext
    for module, resolution, files in (
        ("commonjs", "node10", ["app.ts"]),
        ("nodenext", "nodenext", ["app.ts", "app.mts"]),
    ):
        config = {
            "compilerOptions": {
                "module": module,
                "moduleResolution": resolution,
                "target": "es2022",
                "strict": True,
                "types": [],
                "lib": ["es2022", "dom"],
                "outDir": f"out-{module}",
            },
            "files": files,
        }
        (app / f"tsconfig.{module}.json").write_text(json.dumps(config))
        run([*tsc, "-p", f"tsconfig.{module}.json"], app, 120)
        ran = run([*node18, f"out-{module}/app.js", key, live.url], app, 60)
        assert json.loads(ran) == {
            "value": True,
            "reason": "STATIC",
            "test": True,
            "offline": True,
            "events": 1,
            "waits": 3,
            "checked": ["TARGETING_MATCH", "FLAG_NOT_FOUND", False],
        }, module
    ran = run(["node", "out-nodenext/app.mjs", key, live.url], app, 60)
    assert json.loads(ran)["value"] is True
