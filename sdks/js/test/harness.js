// A real Launch Sequence server for the tests: `.venv/bin/python -m launchsequence serve` on a
// free port with a temporary SQLite data dir, a user signed up through the API, and helpers
// for the admin API. Also used by tests/ofrep-web/.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const PYTHON = join(REPO_ROOT, '.venv', 'bin', 'python');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A logger that keeps what the SDK says (warnings and errors) for assertions. */
export function recordingLogger() {
  const lines = [];
  const push = (m) => lines.push(m);
  return { lines, warn: push, error: push, debug() {} };
}

async function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

/** Poll `fn` until it returns truthy or `timeout` ms pass; returns its last value. */
export async function waitFor(fn, timeout = 3000, step = 20) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > end) return v;
    await sleep(step);
  }
}

export class TestServer {
  constructor(extraEnv = {}) {
    this.dataDir = mkdtempSync(join(tmpdir(), 'launchseq-js-'));
    this.env = {
      ...process.env,
      LAUNCHSEQ_DATA_DIR: this.dataDir,
      LAUNCHSEQ_LOG_LEVEL: 'warning',
      LAUNCHSEQ_SSE_HEARTBEAT_SECONDS: '5',
      // One process (the default is one worker per CPU): the process killed and restarted
      // here is the one that serves.
      LAUNCHSEQ_WORKERS: '1',
      ...extraEnv,
    };
    this.proc = null;
    this.org = null;
    this.cookie = '';
    this.csrf = '';
    this.output = '';
  }

  get baseUrl() { return `http://127.0.0.1:${this.port}`; }

  /** Start the server, sign up (a user, an organization, a session), learn the client key. */
  async setup() {
    if (!existsSync(PYTHON)) throw new Error(`no ${PYTHON}: run \`make install\` at the repo root`);
    this.port = await freePort();
    await this.start();
    const res = await fetch(`${this.baseUrl}/api/v1/auth/signup`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: 'js-sdk@example.com', password: 'correct-horse-battery', name: 'JS' }),
    });
    const body = await res.json();
    if (!res.ok) throw new Error(`signup: ${res.status} ${JSON.stringify(body)}`);
    const cookies = res.headers.getSetCookie ? res.headers.getSetCookie() : [res.headers.get('set-cookie') || ''];
    this.cookie = cookies.map((c) => c.split(';')[0]).join('; ');
    this.csrf = body.csrf_token;
    this.org = body.organizations[0].key;
    const env = await this.api('GET', this.projectPath('/environments/production'));
    this.clientKey = env.sdk_keys.find((k) => k.kind === 'client').key;
    return this;
  }

  async start() {
    this.proc = spawn(PYTHON, ['-m', 'launchsequence', 'serve', '--host', '127.0.0.1', '--port', String(this.port)],
      { cwd: REPO_ROOT, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const proc = this.proc;
    const keep = (d) => { this.output = (this.output + d).slice(-8000); };
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    const exited = new Promise((r) => proc.once('exit', r));
    this.exited = exited;
    const up = await waitFor(async () => {
      if (proc.exitCode !== null) return 'exited';
      try { return (await fetch(`${this.baseUrl}/healthz`)).ok; } catch (_) { return false; }
    }, 60000, 50); // generous: a loaded CI machine starts Python slowly
    if (up !== true) throw new Error(`server did not start:\n${this.output}`);
  }

  /** Stop the process (SIGKILL by default: a crash, connections cut without goodbye). */
  async stop(signal = 'SIGKILL') {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill(signal);
    let timer;
    await Promise.race([this.exited, new Promise((r) => { timer = setTimeout(r, 5000); })]);
    clearTimeout(timer);
    this.proc = null;
  }

  async restart() {
    await this.stop();
    await this.start();
  }

  async cleanup() {
    await this.stop('SIGTERM');
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  projectPath(rest) { return `/api/v1/orgs/${this.org}/projects/default${rest}`; }

  async api(method, path, body) {
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: { Cookie: this.cookie, 'X-CSRF-Token': this.csrf, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  async createFlag(key, body = {}) {
    return this.api('POST', this.projectPath('/flags'), { key, client_side: true, ...body });
  }

  async configure(key, config, env = 'production') {
    return this.api('PATCH', this.projectPath(`/flags/${key}/environments/${env}`), config);
  }

  async toggle(key, on) { return this.configure(key, { on }); }

  async serverKey() {
    const r = await this.api('POST', this.projectPath('/environments/production/sdk-keys'),
      { kind: 'server', grace_seconds: 0 });
    return r.key;
  }
}
