// Helpers for the black-box tests: a fresh database per file, the real `kiln serve` on a free
// port, raw sockets for exact bytes. Everything started here is cleaned up by the caller's hooks.
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const env = process.env;

function need(name) {
  if (!env[name]) throw new Error(`${name} is not set: run the e2e tests through scripts/test`);
  return env[name];
}

export const kilnBin = () => need('KILN_BIN');

// psql as the cluster superuser against the test cluster (or another one, given its env).
export function superPsql(sql, clusterEnv = env) {
  const password = readFileSync(clusterEnv.KILN_PG_SUPERUSER_PASSWORD_FILE, 'utf8').trim();
  execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', clusterEnv.KILN_DATABASE_HOST,
    '-p', clusterEnv.KILN_DATABASE_PORT, '-U', clusterEnv.KILN_PG_SUPERUSER, '-d', 'postgres', '-c', sql],
  { env: { ...process.env, PGPASSWORD: password }, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function createDatabase() {
  const name = `kiln_e2e_${randomBytes(6).toString('hex')}`;
  superPsql(`CREATE DATABASE "${name}" TEMPLATE "${need('KILN_TEST_TEMPLATE')}" OWNER "${need('KILN_DATABASE_OWNER_USER')}"`);
  return name;
}

export function dropDatabase(name, clusterEnv = env) {
  superPsql(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`, clusterEnv);
}

// Starts `kiln serve --port 0` and resolves once it logs "listening".
export async function startKiln({ database, env: extra = {}, timeoutMs = 20000 } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-e2e-'));
  const config = path.join(dir, 'kiln.toml');
  writeFileSync(config, '');
  const proc = spawn(kilnBin(), ['serve', '--port', '0'], {
    cwd: dir,
    env: { ...process.env, KILN_CONFIG: config, ...(database ? { KILN_DATABASE_NAME: database } : {}), ...extra },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs = [];
  const waiters = [];
  let output = '';
  let buffered = '';
  proc.stdout.on('data', (chunk) => {
    output += chunk;
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        const entry = JSON.parse(line);
        logs.push(entry);
        for (const w of [...waiters]) if (w.match(entry)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(entry); }
      } catch { /* not a log line */ }
    }
  });
  proc.stderr.on('data', (chunk) => { output += chunk; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal)));

  // Resolves with the first log entry (past or future) matching `match`.
  const waitForLog = (match, ms = timeoutMs) => new Promise((resolve, reject) => {
    const seen = logs.find(match);
    if (seen) { resolve(seen); return; }
    const w = { match };
    const remove = () => { const i = waiters.indexOf(w); if (i >= 0) waiters.splice(i, 1); };
    const timer = setTimeout(() => { remove(); reject(new Error(`log line not seen within ${ms} ms; output:\n${output}`)); }, ms);
    w.resolve = (entry) => { clearTimeout(timer); resolve(entry); };
    waiters.push(w);
    exited.then((code) => {
      if (!waiters.includes(w)) return;
      remove();
      clearTimeout(timer);
      reject(new Error(`kiln exited (${code}); output:\n${output}`));
    });
  });

  const listening = await waitForLog((e) => e.msg === 'listening');
  const port = listening.port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    proc,
    logs,
    exited,
    waitForLog,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const code = await exited;
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

// Sends exact bytes on a new connection; resolves with everything received until the server closes.
export function rawExchange(port, bytes, { timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no close within ${timeoutMs} ms; got:\n${data}`)); }, timeoutMs);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (d) => { data += d.toString('latin1'); });
    socket.on('error', (e) => { clearTimeout(timer); reject(e); });
    socket.on('close', () => { clearTimeout(timer); resolve(data); });
  });
}

// A raw connection driven step by step: write, then read until a predicate holds.
export function rawConnection(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    let closed = false;
    const listeners = new Set();
    const notify = () => { for (const l of [...listeners]) l(); };
    socket.on('data', (d) => { data += d.toString('latin1'); notify(); });
    socket.on('close', () => { closed = true; notify(); });
    socket.on('error', () => {});
    socket.once('error', reject);
    socket.on('connect', () => resolve({
      socket,
      write: (bytes) => new Promise((res, rej) => socket.write(bytes, (e) => (e ? rej(e) : res()))),
      received: () => data,
      isClosed: () => closed,
      until(pred, ms = 10000) {
        return new Promise((res, rej) => {
          const check = () => {
            if (pred(data, closed)) { listeners.delete(check); clearTimeout(timer); res(data); return true; }
            return false;
          };
          const timer = setTimeout(() => { listeners.delete(check); rej(new Error(`timed out; got:\n${data}`)); }, ms);
          if (!check()) listeners.add(check);
        });
      },
      close: () => socket.destroy(),
    }));
  });
}

// Splits raw HTTP/1.1 responses (Content-Length framed) into {status, headers, body}.
export function parseResponses(raw) {
  const out = [];
  let rest = raw;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const headers = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    const len = Number(headers['content-length'] ?? 0);
    const body = rest.slice(end + 4, end + 4 + len);
    out.push({ status: Number(statusLine.split(' ')[1]), statusLine, headers, body });
    rest = rest.slice(end + 4 + len);
  }
  return out;
}

// Polls `fn` until it returns a truthy value or the deadline passes.
export async function eventually(fn, { timeoutMs = 30000, intervalMs = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) { last = e; }
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms (last: ${last})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}
