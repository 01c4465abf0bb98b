// /ready follows PostgreSQL: 503 while it is down, 200 again once it is back, without
// restarting kiln. Uses its own cluster so that stopping it disturbs no other test.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually, freePort, kilnBin, startKiln } from './lib/kiln.mjs';

const pgScript = fileURLToPath(new URL('../../scripts/pg', import.meta.url));

function pg(command, clusterEnv) {
  return execFileSync(pgScript, [command], { env: clusterEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function parseExports(text) {
  const out = {};
  for (const m of text.matchAll(/^export (\w+)='([^']*)'$/gm)) out[m[1]] = m[2];
  return out;
}

describe('database outage', { timeout: 180000 }, () => {
  it('/ready turns 503 when PostgreSQL stops and 200 when it is back; /health never fails', async (t) => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'kiln-outage-'));
    const base = { ...process.env, KILN_HOME: home, KILN_DATABASE_PORT: String(await freePort()), KILN_PG_FAST: '1' };
    t.after(() => {
      try { pg('stop', base); } catch { /* already stopped */ }
      let target;
      try { target = readlinkSync(path.join(home, 'pg')); } catch { /* not a symlink when not root */ }
      rmSync(home, { recursive: true, force: true });
      if (target && target.startsWith('/var/tmp/kiln-')) rmSync(target, { recursive: true, force: true });
    });
    pg('start', base);
    const clusterEnv = { ...base, ...parseExports(pg('env', base)) };
    execFileSync(kilnBin(), ['migrate'], { env: { ...clusterEnv, KILN_LOG_LEVEL: 'warn' }, stdio: 'ignore' });

    const kiln = await startKiln({
      env: { ...clusterEnv, KILN_DATABASE_CONNECT_TIMEOUT_MS: '1000', KILN_DATABASE_ACQUIRE_TIMEOUT_MS: '1000' },
    });
    t.after(() => kiln.stop('SIGKILL'));

    assert.equal((await fetch(`${kiln.url}/ready`)).status, 200);

    pg('stop', base);
    const down = await eventually(async () => {
      const res = await fetch(`${kiln.url}/ready`);
      return res.status === 503 ? res : null;
    }, { timeoutMs: 30000, what: '/ready = 503' });
    assert.equal(down.headers.get('content-type'), 'application/problem+json');
    assert.ok(down.headers.get('retry-after'), 'Retry-After');
    assert.equal((await down.json()).status, 503);
    assert.equal((await fetch(`${kiln.url}/health`)).status, 200, '/health does not depend on the database');
    assert.equal(kiln.proc.exitCode, null, 'kiln is still running');

    pg('start', base);
    await eventually(async () => (await fetch(`${kiln.url}/ready`)).status === 200,
      { timeoutMs: 30000, what: '/ready = 200 after restart' });
    assert.equal(kiln.proc.exitCode, null, 'the same kiln process recovered');
    assert.equal(await kiln.stop(), 0);
  });
});
