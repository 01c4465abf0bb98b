// PostgreSQL restarts while `kiln serve` runs jobs: without touching kiln, the API answers again,
// every job enqueued before the restart ends succeeded (one interrupted mid-run is retried), jobs
// enqueued after it run too, and the worker is back on its LISTEN channels and in the lead.
// Uses its own PostgreSQL cluster, so restarting it disturbs no other test.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCluster } from './lib/cluster.mjs';
import { eventually, startKiln, superPsql } from './lib/kiln.mjs';
import { apiClient, signUp } from './lib/api.mjs';
import { FAST } from './lib/workers.mjs';

describe('PostgreSQL restarted under running jobs', { timeout: 120000 }, () => {
  let cluster;
  let kiln;
  let o;
  before(async () => {
    cluster = await createCluster(); // initdb: a few seconds
    kiln = await startKiln({
      env: {
        ...cluster.env,
        ...FAST,
        KILN_DATABASE_CONNECT_TIMEOUT_MS: '1000',
        KILN_DATABASE_ACQUIRE_TIMEOUT_MS: '250', // calls fail during the restart: running attempts are lost
        KILN_AUTH_REGISTRATIONS_PER_IP_HOUR: '1000',
      },
    });
    o = await signUp(apiClient(kiln));
  });
  after(async () => {
    try {
      if (kiln) assert.equal(await kiln.stop(), 0, 'kiln exits 0 on SIGTERM');
    } finally {
      if (cluster) await cluster.destroy();
    }
  });

  const ready = async () => {
    const res = await fetch(`${kiln.url}/ready`);
    await res.arrayBuffer();
    return res.status;
  };
  const jobs = async (ids) => Promise.all(ids.map(async (id) => (await o.as.get(`/jobs/${id}`)).body));
  const allSucceeded = (ids, what, timeoutMs = 30000) => eventually(async () => {
    const list = await jobs(ids);
    return list.every((j) => j?.state === 'succeeded') && list;
  }, { what, timeoutMs, intervalMs: 100 });
  // Sessions of this kiln on the cluster whose last statement matches `pattern`.
  const sessions = (pattern) => Number(superPsql(
    `SELECT count(*) FROM pg_stat_activity WHERE query LIKE '${pattern}' AND state = 'idle'`, cluster.env).trim());

  it('runs every job to success across a restart, and new ones after it', async (t) => {
    const ids = [];
    for (let i = 0; i < 12; ++i) {
      const res = await o.as.post('/jobs', { kind: 'system.sleep', args: { ms: 300 + ((i * 71) % 300) } });
      assert.equal(res.status, 201, res.text);
      ids.push(res.body.id);
    }
    // The free plan runs two at once: two run while the rest wait through the restart.
    await eventually(async () => (await o.as.get('/jobs?state=running')).body.items.some((j) => j.progress.percent > 0),
      { what: 'a job to be running', timeoutMs: 10000, intervalMs: 20 });
    // kiln listens on all its channels on one connection (db::Notifier).
    const workerListener = 'LISTEN %kiln_jobs; LISTEN kiln_job_cancel%';
    await eventually(() => sessions(workerListener) === 1, { what: 'the worker to listen for new work' });
    const leaderLines = () => kiln.logs.filter((e) => e.msg === 'job leader').length;
    await eventually(() => leaderLines() === 1, { what: 'the worker to lead', timeoutMs: 15000 });

    await cluster.stop(); // fast shutdown: every session is ended
    const downAt = Date.now();
    await eventually(async () => (await ready()) === 503, { what: '/ready 503 with the database down', timeoutMs: 10000 });
    await cluster.start();
    await eventually(async () => (await ready()) === 200, { what: '/ready 200 again', timeoutMs: 30000, intervalMs: 100 });
    t.diagnostic(`/ready answered 200 again ${Date.now() - downAt} ms after the database went down`);

    const done = await allSucceeded(ids, 'every job enqueued before the restart to succeed');
    // An attempt whose database calls failed during the restart is lost with its outcome; its
    // lease expires and it runs again. Nothing else may have failed.
    const retried = done.filter((j) => j.attempt > 1);
    t.diagnostic(`${retried.length} of ${ids.length} jobs were interrupted and ran again`);
    for (const j of retried) {
      assert.ok(j.errors.every((e) => /lease expired/.test(e.error)), `only lost leases: ${JSON.stringify(j.errors)}`);
    }
    for (const j of done.filter((x) => x.attempt === 1)) assert.deepEqual(j.errors, []);

    const later = [];
    for (let i = 0; i < 3; ++i) later.push((await o.as.post('/jobs', { kind: 'system.sleep', args: { ms: 20 } })).body.id);
    await allSucceeded(later, 'jobs enqueued after the restart to run', 10000);

    // Back on its channels and in the lead, on new sessions (the old ones ended with the restart).
    await eventually(() => sessions(workerListener) === 1,
      { what: 'the worker to listen again', timeoutMs: 15000 });
    await eventually(() => leaderLines() === 2, { what: 'the worker to take the lead again', timeoutMs: 15000 });
    assert.equal(kiln.logs.filter((e) => e.msg === 'listening').length, 1, 'the same kiln, never restarted');
    assert.equal(kiln.alive(), true);
  });
});
