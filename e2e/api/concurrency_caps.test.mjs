// A kind's global concurrency cap holds across worker processes: the diagnostic kind
// system.capped (at most two at once, whoever runs them) never runs more than two at a time,
// while other kinds fill the free slots beside it; and a worker runs no more jobs at once than
// its slots (jobs.workers).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from './lib/kiln.mjs';
import { launchWithAccount, platformAdmin } from './lib/api.mjs';
import { FAST, psql, startWorker } from './lib/workers.mjs';

describe('per-kind concurrency caps', { timeout: 60000 }, () => {
  let kiln;
  let o;
  let admin;
  const workers = [];
  before(async () => {
    let c;
    ({ kiln, c, owner: o } = await launchWithAccount({ env: { ...FAST, KILN_JOBS_WORKERS: '0' } }));
    admin = await platformAdmin(c, { database: kiln.database });
    // The team plan runs ten of a workspace's jobs at once: more than the kind's cap.
    const upgraded = await admin.patch(`/admin/workspaces/${o.workspace.id}`, { plan: 'team' });
    assert.equal(upgraded.status, 200, upgraded.text);
  });
  after(async () => {
    for (const w of workers) await w.kill();
    if (kiln) assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM');
  });

  it('never runs more than two system.capped jobs at once across three workers', async (t) => {
    // Three processes, each with eight slots: any one could run all six capped jobs at once,
    // and each claims when it hears of new work, so a cap kept per process would show.
    for (let i = 0; i < 3; ++i) workers.push(startWorker(kiln.database));
    await eventually(async () => (await admin.get('/admin/workers')).body.items.length === 3,
      { what: 'three workers to register' });
    const ids = [];
    for (let i = 0; i < 6; ++i) {
      for (const kind of ['system.capped', 'system.sleep']) {
        const res = await o.as.post('/jobs', { kind, args: { ms: 400 } });
        assert.equal(res.status, 201, res.text);
        ids.push(res.body.id);
      }
    }

    const count = (stats, kind, state) => stats.by_kind.find((r) => r.kind === kind && r.state === state)?.count ?? 0;
    let maxCapped = 0;
    let besideFullCap = 0; // samples with two capped jobs running and another kind beside them
    let samples = 0;
    const overCap = []; // (eventually retries on a throw, so violations are collected, then asserted)
    await eventually(async () => {
      const res = await o.as.get('/jobs/stats');
      assert.equal(res.status, 200, res.text);
      const capped = count(res.body, 'system.capped', 'running');
      const others = count(res.body, 'system.sleep', 'running');
      samples += 1;
      maxCapped = Math.max(maxCapped, capped);
      if (capped > 2) overCap.push(res.body.by_kind);
      if (capped === 2 && others > 0) besideFullCap += 1;
      return count(res.body, 'system.capped', 'succeeded') + count(res.body, 'system.sleep', 'succeeded') === 12;
    }, { what: 'all twelve jobs to succeed', timeoutMs: 30000, intervalMs: 10 });

    assert.deepEqual(overCap, [], 'never more than two capped jobs running at once');
    t.diagnostic(`${samples} samples, ${besideFullCap} with the cap full and other kinds running beside it`);
    assert.equal(maxCapped, 2, 'the cap was reached');
    assert.ok(besideFullCap > 0, 'a full cap holds back only its own kind');
    const owners = psql(kiln.database, "SELECT count(DISTINCT lease_owner) FROM jobs WHERE kind = 'system.capped'");
    t.diagnostic(`capped jobs ran on ${owners} of the 3 workers`);
    for (const id of ids) {
      const j = (await o.as.get(`/jobs/${id}`)).body;
      assert.equal(j.state, 'succeeded');
      assert.equal(j.attempt, 1);
    }
  });

  it('runs no more jobs at once than a worker has slots', async () => {
    for (const w of workers.splice(0)) await w.kill();
    await eventually(async () => (await o.as.get('/jobs/stats')).body.running === 0, { what: 'no job running' });
    workers.push(startWorker(kiln.database, { KILN_JOBS_WORKERS: '2' }));
    const ids = [];
    for (let i = 0; i < 6; ++i) ids.push((await o.as.post('/jobs', { kind: 'system.sleep', args: { ms: 300 } })).body.id);
    let most = 0;
    await eventually(async () => {
      const stats = (await o.as.get('/jobs/stats')).body;
      most = Math.max(most, stats.running);
      const done = await Promise.all(ids.map(async (id) => (await o.as.get(`/jobs/${id}`)).body.state));
      return done.every((state) => state === 'succeeded');
    }, { what: 'the six jobs to succeed', timeoutMs: 30000, intervalMs: 10 });
    assert.equal(most, 2, 'two slots: two jobs at a time, and both used');
  });
});
