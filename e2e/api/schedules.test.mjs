// Cron schedules and leader election across `kiln worker` processes: exactly one worker leads
// (GET /admin/workers, /admin/schedules); when it is killed another takes the lead within
// seconds, and it is the new leader that fires a schedule run by hand (the retention task, which
// deletes an old finished job). Only platform administrators see or run schedules.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from './lib/kiln.mjs';
import { assertProblem, assertTimestamp, assertUnauthorized, launchWithAccount, platformAdmin } from './lib/api.mjs';
import { FAST, psql, startWorker } from './lib/workers.mjs';

// Retention's schedule, moved to midnight on January 1st so that only a run by hand fires it here.
const CRON = '0 0 1 1 *';
const WORKER_ENV = { KILN_JOBS_RETENTION_CRON: CRON };

describe('cron schedules and the leader', { timeout: 60000 }, () => {
  let kiln;
  let c;
  let o;
  let admin;
  const workers = [];
  before(async () => {
    ({ kiln, c, owner: o } = await launchWithAccount({ env: { ...FAST, ...WORKER_ENV, KILN_JOBS_WORKERS: '0' } }));
    admin = await platformAdmin(c, { database: kiln.database });
  });
  after(async () => {
    for (const w of workers) await w.kill();
    if (kiln) assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM');
  });

  // The workers and schedules as an administrator sees them, once `pred` holds.
  const view = async () => {
    const ws = await admin.get('/admin/workers');
    const ss = await admin.get('/admin/schedules');
    assert.equal(ws.status, 200, ws.text);
    assert.equal(ss.status, 200, ss.text);
    return { workers: ws.body.items, schedules: ss.body };
  };
  const viewWhen = (pred, what, timeoutMs = 10000) => eventually(async () => {
    const v = await view();
    return pred(v) && v;
  }, { what, timeoutMs, intervalMs: 50 });
  const leaders = (v) => v.workers.filter((w) => w.leader);
  // The processes that took the lead, by their own log.
  const leading = () => workers.filter((w) => w.output().includes('"msg":"job leader"'));
  const retention = (v) => v.schedules.items.find((s) => s.name === 'jobs.retention');

  it('refuses everyone but platform administrators', async () => {
    assertProblem(await o.as.get('/admin/schedules'), 403);
    assertProblem(await o.as.post('/admin/schedules/jobs.retention/run'), 403);
    assertUnauthorized(await c.call('GET', '/admin/schedules'));
    assertUnauthorized(await c.call('POST', '/admin/schedules/jobs.retention/run'));
    assertProblem(await admin.post('/admin/schedules/nope/run'), 404);
  });

  it('elects one leader; when it is killed another leads and fires the schedules', async (t) => {
    workers.push(startWorker(kiln.database, WORKER_ENV), startWorker(kiln.database, WORKER_ENV));
    const first = await viewWhen((v) => v.workers.length === 2 && leaders(v).length === 1 && retention(v),
      'two workers, one of them leading, and the retention schedule');
    const leader = leaders(first)[0];
    assert.deepEqual(first.workers.map((w) => w.pid).sort(), workers.map((w) => w.pid).sort());
    assert.equal(first.schedules.leader, leader.id);
    await eventually(() => leading().length > 0, { what: 'the leader to log that it leads', timeoutMs: 5000 });
    assert.deepEqual(leading().map((w) => w.pid), [leader.pid], 'only the leader took the lead');
    assertTimestamp(first.schedules.leader_since, 'leader_since');
    const schedule = retention(first);
    assert.equal(schedule.cron, CRON);
    assert.equal(schedule.time_zone, 'UTC');
    assert.equal(schedule.runs, 0, 'not fired yet');
    assert.equal(schedule.last_run_at, null);
    const next = new Date(schedule.next_run_at);
    assert.ok(next > new Date() && next.getUTCMonth() === 0 && next.getUTCDate() === 1 && next.getUTCHours() === 0,
      `next run: the coming January 1st, 00:00 UTC (${schedule.next_run_at})`);

    // A job that finished long ago: the retention task deletes it when it runs.
    const old = (await o.as.post('/jobs', { kind: 'system.sleep', args: { ms: 1 } })).body;
    const recent = (await o.as.post('/jobs', { kind: 'system.sleep', args: { ms: 1 } })).body;
    await eventually(async () => (await o.as.get(`/jobs/${old.id}`)).body.state === 'succeeded' &&
      (await o.as.get(`/jobs/${recent.id}`)).body.state === 'succeeded', { what: 'both jobs to succeed' });
    psql(kiln.database, `UPDATE jobs SET finished_at = now() - interval '8 days' WHERE id = '${old.id}'`);

    const victim = workers.find((w) => w.pid === leader.pid);
    const survivor = workers.find((w) => w !== victim);
    const killedAt = Date.now();
    assert.equal(await victim.kill('SIGKILL'), 'SIGKILL');
    // A dead leader is not reported as leading (its lock is gone), and another takes over. A view
    // is two requests (workers, then schedules): one taken while the lead changed hands can have
    // the old leader in the first and the new one in the second, so wait for one that agrees.
    const second = await viewWhen((v) => v.schedules.leader && v.schedules.leader !== leader.id &&
      leaders(v).length > 0 && leaders(v).every((w) => w.id === v.schedules.leader),
    'another worker to take the lead (within 10 s)', 10000);
    t.diagnostic(`the lead changed hands ${Date.now() - killedAt} ms after the leader was killed`);
    const newLeader = second.workers.find((w) => w.id === second.schedules.leader);
    assert.ok(newLeader, 'the new leader is a registered worker');
    assert.equal(newLeader.pid, survivor.pid, 'the surviving worker leads');
    assert.deepEqual(leaders(second).map((w) => w.id), [newLeader.id], 'exactly one leader');
    await eventually(() => survivor.output().includes('"msg":"job leader"'),
      { what: 'the survivor to log that it leads', timeoutMs: 5000 });
    assert.ok(Date.parse(second.schedules.leader_since) >= Date.parse(first.schedules.leader_since));
    assert.equal(retention(second).runs, 0, 'still not fired');

    const run = await admin.post('/admin/schedules/jobs.retention/run');
    assert.equal(run.status, 202, run.text);
    assert.deepEqual(run.body, { name: 'jobs.retention', due: true });
    const fired = await viewWhen((v) => retention(v).runs === 1, 'the new leader to fire the schedule', 10000);
    const ran = retention(fired);
    assertTimestamp(ran.last_run_at, 'last_run_at');
    assert.ok(Date.parse(ran.last_run_at) >= killedAt - 1000, 'it ran after the old leader died');
    assert.equal(ran.last_error, null);
    assert.equal(ran.next_run_at, schedule.next_run_at, 'then waits for its next occurrence again');
    assert.equal(fired.schedules.leader, newLeader.id);
    await eventually(async () => (await o.as.get(`/jobs/${old.id}`)).status === 404,
      { what: 'retention to have deleted the old job', timeoutMs: 5000 });
    assert.equal((await o.as.get(`/jobs/${recent.id}`)).status, 200, 'a recent finished job is kept');
  });

  it('hands the lead over when its leader stops cleanly (SIGTERM)', async () => {
    const third = startWorker(kiln.database, WORKER_ENV);
    workers.push(third);
    const was = await viewWhen((v) => v.workers.some((w) => w.pid === third.pid) && v.schedules.leader,
      'the third worker to register');
    const current = workers.find((w) => w.pid === was.workers.find((x) => x.id === was.schedules.leader).pid);
    assert.notEqual(current, third, 'the lead does not move while its holder lives');
    assert.equal(await current.kill('SIGTERM'), 0, `SIGTERM exits 0: ${current.output()}`);
    const now = await viewWhen((v) => v.schedules.leader && v.schedules.leader !== was.schedules.leader,
      'the third worker to lead');
    assert.equal(now.workers.find((w) => w.id === now.schedules.leader).pid, third.pid);
  });
});
