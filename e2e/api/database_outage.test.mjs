// The database goes away under a running kiln and comes back: /ready follows it (503 with
// Retry-After, then 200 again) without a restart, while /health and the process stay up.
// Uses its own PostgreSQL cluster, so stopping it disturbs no other test.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCluster } from './lib/cluster.mjs';
import { eventually, startKiln } from './lib/kiln.mjs';

describe('database outage', { timeout: 180000 }, () => {
  let cluster;
  let kiln;
  before(async () => {
    cluster = await createCluster(); // initdb: a few seconds
    kiln = await startKiln({
      env: { ...cluster.env, KILN_DATABASE_CONNECT_TIMEOUT_MS: '1000', KILN_DATABASE_ACQUIRE_TIMEOUT_MS: '1000' },
    });
  });
  after(async () => {
    try {
      if (kiln) assert.equal(await kiln.stop(), 0, 'kiln exits 0 on SIGTERM');
    } finally {
      if (cluster) await cluster.destroy();
    }
  });

  // GET /ready and, alongside, GET /health, which must not care about the database.
  async function probe() {
    const health = await fetch(`${kiln.url}/health`);
    assert.equal(health.status, 200, '/health stays 200');
    await health.arrayBuffer();
    assert.equal(kiln.alive(), true, 'kiln keeps running');
    const res = await fetch(`${kiln.url}/ready`);
    return { res, text: await res.text() };
  }

  it('/ready goes 200 → 503 → 200 as the database stops and starts again', async () => {
    const up = await probe();
    assert.equal(up.res.status, 200, up.text);
    assert.equal(JSON.parse(up.text).status, 'ready');

    await cluster.stop();
    const down = await eventually(async () => {
      const p = await probe();
      return p.res.status !== 200 && p;
    }, { timeoutMs: 20000, intervalMs: 200, what: '/ready not 200 with the database down' });
    assert.equal(down.res.status, 503, down.text);
    assert.equal(down.res.headers.get('content-type'), 'application/problem+json');
    assert.match(down.res.headers.get('retry-after') ?? '', /^\d+$/, 'Retry-After in seconds');
    const problem = JSON.parse(down.text);
    assert.equal(problem.status, 503);
    assert.equal(problem.instance, '/ready');
    assert.equal(problem.request_id, down.res.headers.get('x-request-id'));
    // It stays down (and quick to say so) while the database is away.
    const again = await probe();
    assert.equal(again.res.status, 503, again.text);

    await cluster.start();
    const back = await eventually(async () => {
      const p = await probe();
      return p.res.status === 200 && p;
    }, { timeoutMs: 30000, intervalMs: 200, what: '/ready 200 once the database is back' });
    assert.equal(JSON.parse(back.text).status, 'ready');
    assert.equal(kiln.logs.filter((e) => e.msg === 'listening').length, 1, 'the same kiln, never restarted');
  });
});
