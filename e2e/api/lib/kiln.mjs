// Helpers for the black-box tests: a fresh database per file, the real `kiln serve` on a free
// port, raw sockets for exact bytes. Everything started here is cleaned up by the caller's hooks
// (and, as a last resort, killed when the test process exits).
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

// Never leave a kiln behind, even when a test process dies before its hooks ran.
const live = new Set();
process.on('exit', () => { for (const p of live) p.kill('SIGKILL'); });

// psql as the cluster superuser, against the test cluster or another one given its env.
export function superPsql(sql, clusterEnv = env) {
  const password = readFileSync(clusterEnv.KILN_PG_SUPERUSER_PASSWORD_FILE, 'utf8').trim();
  return execFileSync('psql', ['-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', '-h', clusterEnv.KILN_DATABASE_HOST,
    '-p', clusterEnv.KILN_DATABASE_PORT, '-U', clusterEnv.KILN_PG_SUPERUSER, '-d', 'postgres', '-c', sql],
  { env: { ...process.env, PGPASSWORD: password }, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
}

// A fresh database cloned from the migrated template.
export function createDatabase() {
  const name = `kiln_e2e_${randomBytes(6).toString('hex')}`;
  superPsql(`CREATE DATABASE "${name}" TEMPLATE "${need('KILN_TEST_TEMPLATE')}" OWNER "${need('KILN_DATABASE_OWNER_USER')}"`);
  return name;
}

export function dropDatabase(name, clusterEnv = env) {
  superPsql(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`, clusterEnv);
}

// Starts `kiln serve --port 0` in an empty directory with an empty config file and resolves
// once it logs "listening"; rejects with its output if it exits first or the deadline passes.
// `launcher`: a command that execs kiln with what follows it (e.g. prlimit with new limits).
export async function startKiln({ database, env: extra = {}, timeoutMs = 20000, launcher = [] } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-e2e-'));
  const config = path.join(dir, 'kiln.toml');
  writeFileSync(config, '');
  const command = [...launcher, kilnBin(), 'serve', '--port', '0'];
  const proc = spawn(command[0], command.slice(1), {
    cwd: dir,
    env: {
      ...process.env,
      KILN_CONFIG: config,
      KILN_AUTH_JWT_KEY: randomBytes(32).toString('base64url'), // each kiln its own signing key
      KILN_STORAGE_MASTER_KEY: randomBytes(32).toString('base64'), // and its own key for connection secrets
      KILN_SERVER_HOST: '127.0.0.1',
      KILN_LOG_LEVEL: 'info', // the "listening" and access log lines are info
      KILN_SERVER_ACCESS_LOG: 'true',
      KILN_MAIL_DIR: path.join(dir, 'mail'), // each kiln its own outbox folder (read by mail tests)
      ...(database ? { KILN_DATABASE_NAME: database } : {}),
      ...extra,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  const logs = [];
  const waiters = new Set();
  let output = '';
  let buffered = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (chunk) => {
    output += chunk;
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let entry;
      try { entry = JSON.parse(line); } catch { continue; } // not a log line
      logs.push(entry);
      for (const w of [...waiters]) w(entry);
    }
  });
  proc.stderr.on('data', (chunk) => { output += chunk; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => {
    live.delete(proc);
    resolve(code ?? signal);
  }));
  let exitCode;
  exited.then((c) => { exitCode = c; });

  // Resolves with the first log entry (past or future) matching `match`.
  const waitForLog = (match, ms = timeoutMs) => new Promise((resolve, reject) => {
    const seen = logs.find(match);
    if (seen) { resolve(seen); return; }
    const done = (fn, arg) => { waiters.delete(w); clearTimeout(timer); fn(arg); };
    const w = (entry) => { if (match(entry)) done(resolve, entry); };
    const timer = setTimeout(() => done(reject, new Error(`log line not seen within ${ms} ms; output:\n${output}`)), ms);
    waiters.add(w);
    exited.then((code) => {
      if (waiters.has(w)) done(reject, new Error(`kiln exited (${code}) before the log line; output:\n${output}`));
    });
  });

  const stop = async (signal = 'SIGTERM') => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    const code = await exited;
    rmSync(dir, { recursive: true, force: true });
    return code;
  };

  let listening;
  try {
    listening = await waitForLog((e) => e.msg === 'listening');
  } catch (e) {
    await stop('SIGKILL');
    throw e;
  }
  const { port } = listening;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    mailDir: extra.KILN_MAIL_DIR ?? path.join(dir, 'mail'),
    proc,
    logs,
    exited, // resolves with the exit code (or the signal's name)
    // The exit code, or a rejection when the process is still running after `ms`.
    exitWithin: (ms) => Promise.race([exited, new Promise((_, reject) => {
      setTimeout(() => reject(new Error(`kiln still running after ${ms} ms; output:\n${output}`)), ms).unref();
    })]),
    alive: () => exitCode === undefined,
    waitForLog,
    output: () => output,
    stop,
  };
}

// A fresh database and a kiln on it; close() stops kiln, then drops the database, and resolves
// with kiln's exit code.
export async function launchKiln({ env: extra = {}, launcher = [] } = {}) {
  const database = createDatabase();
  let kiln;
  try {
    kiln = await startKiln({ database, env: extra, launcher });
  } catch (e) {
    dropDatabase(database);
    throw e;
  }
  kiln.database = database;
  kiln.close = async (signal = 'SIGTERM') => {
    try {
      return await kiln.stop(signal);
    } finally {
      dropDatabase(database);
    }
  };
  return kiln;
}

// Sends exact bytes on a new connection; resolves with everything received until the server
// closes it.
export function rawExchange(port, bytes, { timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server did not close within ${timeoutMs} ms; got:\n${data}`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (d) => { data += d.toString('latin1'); });
    socket.on('error', (e) => { clearTimeout(timer); reject(new Error(`${e.message}; got so far:\n${data}`)); });
    socket.on('close', () => { clearTimeout(timer); resolve(data); });
  });
}

// A raw connection driven step by step: write (resolves once the bytes are handed to the
// kernel), then wait until what was received satisfies a predicate.
export function rawConnection(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    let closed = false;
    let error = null;
    const listeners = new Set();
    const notify = () => { for (const l of [...listeners]) l(); };
    socket.on('data', (d) => { data += d.toString('latin1'); notify(); });
    socket.on('close', () => { closed = true; notify(); });
    socket.on('error', (e) => { error = e; });
    socket.once('error', reject);
    socket.on('connect', () => resolve({
      socket,
      write: (bytes) => new Promise((res, rej) => socket.write(bytes, (e) => (e ? rej(e) : res()))),
      received: () => data,
      isClosed: () => closed,
      error: () => error,
      until(pred, ms = 10000) {
        return new Promise((res, rej) => {
          const check = () => {
            if (!pred(data, closed)) return false;
            listeners.delete(check);
            clearTimeout(timer);
            res(data);
            return true;
          };
          const timer = setTimeout(() => {
            listeners.delete(check);
            rej(new Error(`condition not met within ${ms} ms (closed: ${closed}, error: ${error?.message}); got:\n${data}`));
          }, ms);
          if (!check()) listeners.add(check);
        });
      },
      close: () => socket.destroy(),
    }));
  });
}

// Resolves true when a TCP connection to the port is refused (or fails), false when it opens.
export function connectFails(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(false); });
    s.on('error', () => resolve(true));
  });
}

// Splits raw HTTP/1.1 responses (Content-Length framed) into {status, statusLine, headers, body}.
// `bodyless` marks responses to HEAD, whose Content-Length describes a body that is not sent.
export function parseResponses(raw, { bodyless = false } = {}) {
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
    const len = bodyless ? 0 : Number(headers['content-length'] ?? 0);
    const body = rest.slice(end + 4, end + 4 + len);
    out.push({ status: Number(statusLine.split(' ')[1]), statusLine, headers, body });
    rest = rest.slice(end + 4 + len);
  }
  if (rest.length > 0) out.push({ trailing: rest });
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
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms (last: ${last?.stack ?? last})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().on('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
