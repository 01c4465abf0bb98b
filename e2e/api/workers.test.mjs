// Workers as separate processes: `kiln worker` runs jobs for an API-only `kiln serve`; a worker
// killed with SIGKILL mid-job loses nothing (another takes the job when the lease expires); a
// worker whose LISTEN connection is killed still starts new jobs; SIGTERM drains cleanly.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { eventually, kilnBin, launchKiln } from './lib/kiln.mjs';
import { apiClient, assertInvalid, assertProblem } from './lib/api.mjs';
import { FAST, psql, startWorker } from './lib/workers.mjs';

describe('worker processes', { timeout: 120000 }, () => {
  let kiln;
  let c;
  let a;
  const workers = [];
  before(async () => {
    // Jobs enqueued here time out after 4 s (the timeout is set when a job is enqueued).
    kiln = await launchKiln({
      env: { ...FAST, KILN_JOBS_WORKERS: '0', KILN_JOBS_DEFAULT_TIMEOUT_MS: '4000',
        KILN_AUTH_REGISTRATIONS_PER_IP_HOUR: '1000' },
    });
    c = apiClient(kiln);
    const account = await c.register();
    a = c.authed((await c.login(account)).access);
  });
  after(async () => {
    for (const w of workers) w.proc.kill('SIGKILL');
    if (kiln) assert.equal(await kiln.close(), 0);
  });

  const state = async (id) => (await a.get(`/jobs/${id}`)).body;
  const until = (id, pred, what) => eventually(async () => {
    const j = await state(id);
    return pred(j) ? j : false;
  }, { what, timeoutMs: 30000, intervalMs: 25 });

  it('an API-only server queues; `kiln worker` runs the jobs', async () => {
    const job = (await a.post('/jobs', { kind: 'system.sleep', args: { ms: 10 } })).body;
    const stats = await a.get('/jobs/stats');
    assert.equal(stats.status, 200, stats.text);
    assert.equal(stats.body.waiting, 1, 'nobody runs it yet');
    assert.ok(stats.body.oldest_waiting_s >= 0);
    assert.deepEqual(stats.body.by_kind, [{ kind: 'system.sleep', state: 'available', count: 1 }]);
    const w = startWorker(kiln.database);
    workers.push(w);
    await until(job.id, (j) => j.state === 'succeeded', 'the worker to run the job');
    assert.equal(Number(psql(kiln.database, "SELECT count(*) FROM workers")), 1, 'the worker registered');
  });

  it('a job whose worker is killed mid-run is taken over and completes once', async () => {
    const victim = workers.pop();
    victim.proc.kill('SIGTERM');
    assert.equal(await victim.exited, 0, `SIGTERM drains and exits 0: ${victim.output()}`);
    const w1 = startWorker(kiln.database);
    workers.push(w1);
    const job = (await a.post('/jobs', { kind: 'system.sleep', args: { ms: 1500 }, max_attempts: 3 })).body;
    await until(job.id, (j) => j.state === 'running' && j.progress.percent > 0, 'the job to run');
    w1.proc.kill('SIGKILL');
    await w1.exited;
    workers.pop();
    const w2 = startWorker(kiln.database);
    workers.push(w2);
    const done = await until(job.id, (j) => j.state === 'succeeded', 'another worker to finish it');
    assert.equal(done.attempt, 2, 'the killed attempt counted, then one more');
    assert.equal(done.errors.length, 1);
    assert.match(done.errors[0].error, /lease expired/);
  });

  it('shows workers, queues and dead jobs to platform administrators, who retry dead jobs', async () => {
    const email = `ops-${randomBytes(4).toString('hex')}@example.com`;
    const password = `operator passphrase ${randomBytes(4).toString('hex')}`;
    const pwFile = `${process.env.KILN_HOME ?? '/tmp'}/pw-${randomBytes(4).toString('hex')}`;
    writeFileSync(pwFile, `${password}\n`);
    const made = spawnSync(kilnBin(), ['admin', 'create-user', '--email', email, '--name', 'Ops', '--platform-admin',
      '--password-file', pwFile], { env: { ...process.env, KILN_DATABASE_NAME: kiln.database }, encoding: 'utf8' });
    rmSync(pwFile, { force: true });
    assert.equal(made.status, 0, made.stderr);
    const ops = c.authed((await c.login({ email, password })).access);

    const workersSeen = await ops.get('/admin/workers');
    assert.equal(workersSeen.status, 200, workersSeen.text);
    assert.ok(workersSeen.body.items.length >= 1);
    assert.ok(workersSeen.body.items[0].kinds.includes('system.sleep'));
    assertProblem(await a.get('/admin/workers'), 403);

    const dead = (await a.post('/jobs', { kind: 'system.fail', args: { message: 'for the admin' }, max_attempts: 1 })).body;
    await until(dead.id, (j) => j.state === 'dead', 'the job to die');
    const queues = await ops.get('/admin/queues');
    assert.ok(queues.body.items.some((q) => q.kind === 'system.fail' && q.state === 'dead' && q.jobs >= 1));
    // It died within the last minute: counted in the throughput by kind, and its workspace listed.
    assert.ok(queues.body.last_minute.some((q) => q.kind === 'system.fail' && q.dead >= 1), queues.text);
    assert.ok(queues.body.workspaces.some((w) => w.finished_last_minute >= 1), queues.text);
    const listed = await ops.get('/admin/dead-jobs?kind=system.fail');
    assert.ok(listed.body.items.some((j) => j.id === dead.id && j.last_error === 'for the admin'));
    assertInvalid(await ops.post('/admin/dead-jobs/retry', {}), ['ids']);
    const retried = await ops.post('/admin/dead-jobs/retry', { ids: [dead.id] });
    assert.equal(retried.status, 200, retried.text);
    assert.equal(retried.body.retried, 1);
    await until(dead.id, (j) => j.state === 'dead' && j.attempt === 2, 'the retried job to run and die again');
  });

  it('fails an attempt that runs past its timeout, and stops its handler', async () => {
    const job = (await a.post('/jobs', { kind: 'system.sleep', args: { ms: 60000 }, max_attempts: 1 })).body;
    const dead = await until(job.id, (j) => j.state === 'dead', 'the job to time out');
    assert.deepEqual(dead.errors.map((e) => e.error), ['timed out']);
    assert.ok(dead.progress.percent < 100, 'the handler stopped early');
  });

  it('still starts jobs after its LISTEN connection is killed', async () => {
    const killed = psql(kiln.database,
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE 'LISTEN %kiln_jobs%' AND pid <> pg_backend_pid() " +
      `AND datname = '${kiln.database}'`);
    assert.ok(Number(killed) >= 1, 'a listener was there to kill');
    const job = (await a.post('/jobs', { kind: 'system.sleep', args: { ms: 1 } })).body;
    await until(job.id, (j) => j.state === 'succeeded', 'the job to start without its notification');
  });
});
