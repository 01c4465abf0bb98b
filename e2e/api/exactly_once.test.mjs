// Side effects committed with a job's success happen exactly once, whatever happens to the
// workers: system.effect jobs run on three `kiln worker` processes while, round after round, the
// one running the most jobs is killed with SIGKILL (and replaced), and once one is paused
// (SIGSTOP) until its jobs are taken from it, then resumed to finish them too late. In the end
// every job succeeded and job_effects holds exactly one row per job, written by the attempt that
// succeeded.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from './lib/kiln.mjs';
import { launchWithAccount, platformAdmin } from './lib/api.mjs';
import { FAST, psql, startWorker } from './lib/workers.mjs';

const JOBS = 80;
const KILL_ROUNDS = 3;

describe('exactly-once side effects under kill -9', { timeout: 90000 }, () => {
  let kiln;
  let o;
  const workers = [];
  before(async () => {
    let c;
    ({ kiln, c, owner: o } = await launchWithAccount({ env: { ...FAST, KILN_JOBS_WORKERS: '0' } }));
    // Ten of the workspace's jobs at once (the team plan), spread over the workers.
    const admin = await platformAdmin(c, { database: kiln.database });
    assert.equal((await admin.patch(`/admin/workspaces/${o.workspace.id}`, { plan: 'team' })).status, 200);
  });
  after(async () => {
    for (const w of workers) await w.kill();
    if (kiln) assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM');
  });

  const sql = (q) => psql(kiln.database, q);
  const rows = (q) => sql(q).split('\n').filter(Boolean).map((l) => l.split('|'));

  // The live worker running the most jobs now (by the leases in the table), with its worker id
  // and the jobs it holds; none while no live worker runs any.
  function busiest() {
    const running = rows(`SELECT w.pid, w.id, count(*) FROM jobs j JOIN workers w ON w.id = j.lease_owner
                           WHERE j.state = 'running' AND j.lease_token IS NOT NULL GROUP BY w.pid, w.id
                           ORDER BY count(*) DESC`);
    for (const [pid, id, n] of running) {
      const w = workers.find((x) => x.pid === Number(pid) && x.alive());
      if (w) return { worker: w, id, running: Number(n) };
    }
    return null;
  }
  // The jobs leased to a worker now.
  const heldBy = (workerId) => rows(`SELECT id FROM jobs WHERE state = 'running' AND lease_owner = '${workerId}'`)
    .map(([id]) => id);
  const inList = (ids) => ids.map((id) => `'${id}'`).join(',');

  it('records each job’s effect once over several kill -9 rounds and a pause', async (t) => {
    for (let i = 0; i < 3; ++i) workers.push(startWorker(kiln.database));
    const ids = [];
    for (let i = 0; i < JOBS; ++i) {
      const res = await o.as.post('/jobs', { kind: 'system.effect', args: { ms: 200 + ((i * 37) % 300) }, max_attempts: 20 });
      assert.equal(res.status, 201, res.text);
      ids.push(res.body.id);
    }

    const hit = []; // the jobs the killed workers were running when they died
    for (let round = 0; round < KILL_ROUNDS;) {
      const victim = await eventually(() => busiest(), { what: `a worker running jobs (round ${round + 1})`, intervalMs: 20 });
      assert.equal(await victim.worker.kill('SIGKILL'), 'SIGKILL');
      // What it held when it died stays leased to it until the lease expires (a second away).
      const lost = heldBy(victim.id);
      const replacement = startWorker(kiln.database);
      workers.push(replacement);
      await eventually(() => Number(sql(`SELECT count(*) FROM workers WHERE pid = ${replacement.pid}`)) === 1,
        { what: 'the replacement worker to register', intervalMs: 20 });
      if (lost.length === 0) continue; // its jobs all ended in the instant before the kill: again
      t.diagnostic(`round ${round + 1}: killed ${victim.id} running ${lost.length} job(s)`);
      hit.push(...lost);
      round += 1;
    }

    // A worker paused past its leases: its jobs are taken back and run again by the others.
    // Resumed while those new attempts run, it finishes its own too late: their outcomes,
    // effects and all, are refused, and the new attempts' effects are the ones recorded.
    let paused;
    let frozen = [];
    while (frozen.length === 0) {
      paused = await eventually(() => busiest(), { what: 'a worker running jobs to pause', intervalMs: 20 });
      paused.worker.proc.kill('SIGSTOP');
      frozen = heldBy(paused.id);
      if (frozen.length === 0) paused.worker.proc.kill('SIGCONT'); // its jobs ended just before: again
    }
    try {
      await eventually(() => Number(sql(`SELECT count(*) FROM jobs WHERE id IN (${inList(frozen)})
                                            AND state = 'running' AND lease_owner = '${paused.id}'`)) === 0,
      { what: 'the paused worker’s jobs to be taken back', timeoutMs: 15000, intervalMs: 20 });
    } finally {
      paused.worker.proc.kill('SIGCONT');
    }
    t.diagnostic(`paused ${paused.id} running ${frozen.length} job(s) until they were taken back`);
    await eventually(() => /job lease lost|finished after losing its lease/.test(paused.worker.output()),
      { what: 'the resumed worker to find its leases gone', timeoutMs: 10000 });

    await eventually(async () => {
      const stats = (await o.as.get('/jobs/stats')).body;
      return stats.by_kind.find((r) => r.kind === 'system.effect' && r.state === 'succeeded')?.count === JOBS;
    }, { what: `all ${JOBS} jobs to succeed`, timeoutMs: 30000, intervalMs: 100 });

    const [[effects, distinct]] = rows(`SELECT count(*), count(DISTINCT job_id) FROM job_effects
                                         WHERE workspace_id = '${o.workspace.id}'`);
    assert.equal(Number(effects), JOBS, 'one effect per job: none missing, none twice');
    assert.equal(Number(distinct), JOBS);
    const orphans = sql(`SELECT count(*) FROM jobs j WHERE NOT EXISTS (
                           SELECT 1 FROM job_effects e WHERE e.workspace_id = j.workspace_id AND e.job_id = j.id)`);
    assert.equal(Number(orphans), 0, 'every job has its effect');
    const mismatched = sql(`SELECT count(*) FROM jobs j JOIN job_effects e
                              ON e.workspace_id = j.workspace_id AND e.job_id = j.id WHERE e.attempt <> j.attempt`);
    assert.equal(Number(mismatched), 0, 'each effect was written by the attempt that succeeded');
    const retaken = Number(sql(`SELECT count(*) FROM jobs WHERE id IN (${inList(frozen)}) AND attempt > 1`));
    assert.ok(retaken > 0, 'the pause let other workers take over running jobs');
    const retried = Number(sql("SELECT count(*) FROM jobs WHERE kind = 'system.effect' AND attempt > 1"));
    const maxAttempt = Number(sql("SELECT max(attempt) FROM jobs WHERE kind = 'system.effect'"));
    t.diagnostic(`${hit.length} running job(s) hit by ${KILL_ROUNDS} kills; ${retried} of ${JOBS} ran more than once ` +
      `(at most ${maxAttempt} attempts)`);
    const rescued = Number(sql(`SELECT count(*) FROM jobs WHERE id IN (${inList(hit)}) AND attempt > 1
                                   AND errors::text LIKE '%lease expired%'`));
    assert.ok(hit.length >= KILL_ROUNDS);
    assert.equal(rescued, new Set(hit).size, 'every job a kill interrupted was taken over and run again');
    for (const id of ids.slice(0, 5)) assert.equal((await o.as.get(`/jobs/${id}`)).body.state, 'succeeded');
  });
});
