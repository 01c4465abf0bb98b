// /api/v1/jobs against a real kiln with its in-process workers and the diagnostic kinds:
// enqueue, run, progress, retry with backoff, dead, retry by hand, cancel (waiting and
// running), idempotent enqueue, roles and validation.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, launchKiln } from './lib/kiln.mjs';
import { apiClient, assertInvalid, assertProblem, assertTimestamp, uniqueEmail } from './lib/api.mjs';

const STATES = ['scheduled', 'available', 'running', 'succeeded', 'failed', 'dead', 'cancelled'];

describe('jobs', { timeout: 120000 }, () => {
  let kiln;
  let c;
  let o;
  before(async () => {
    kiln = await launchKiln({
      env: {
        KILN_AUTH_REGISTRATIONS_PER_IP_HOUR: '100000',
        KILN_JOBS_DIAGNOSTIC_KINDS: 'true',
        KILN_JOBS_RETRY_BASE_MS: '20',
        KILN_JOBS_POLL_INTERVAL_MS: '100',
        KILN_JOBS_HEARTBEAT_MS: '50',
      },
    });
    c = apiClient(kiln);
    const account = await c.register();
    const { access } = await c.login(account);
    o = { ...account, as: c.authed(access) };
  });
  after(async () => { if (kiln) assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM'); });

  const job = async (id) => {
    const res = await o.as.get(`/jobs/${id}`);
    assert.equal(res.status, 200, res.text);
    return res.body;
  };
  const until = (id, pred, what) => eventually(async () => {
    const j = await job(id);
    return pred(j) ? j : false;
  }, { what, timeoutMs: 20000, intervalMs: 25 });

  it('runs a job to success with progress and a result', async () => {
    const res = await o.as.post('/jobs', { kind: 'system.sleep', args: { ms: 200 } });
    assert.equal(res.status, 201, res.text);
    const j = res.body;
    assert.equal(j.kind, 'system.sleep');
    assert.ok(STATES.includes(j.state));
    assert.equal(j.attempt, 0);
    assert.equal(j.max_attempts, 5);
    assert.deepEqual(j.args, { ms: 200 });
    assert.deepEqual(j.errors, []);
    assert.equal(j.result, null);
    assertTimestamp(j.run_at, 'run_at');
    assertTimestamp(j.created_at, 'created_at');
    const done = await until(j.id, (x) => x.state === 'succeeded', 'the job to succeed');
    assert.equal(done.attempt, 1);
    assert.deepEqual(done.result, { slept_ms: 200 });
    assert.equal(done.progress.percent, 100);
    assertTimestamp(done.finished_at, 'finished_at');
    const listed = await o.as.get('/jobs?state=succeeded&kind=system.sleep');
    assert.ok(listed.body.items.some((x) => x.id === j.id));
    const metrics = await (await fetch(`${kiln.url}/metrics`)).text();
    assert.match(metrics, /^kiln_jobs_started_total\{kind="system\.sleep"\} [1-9]/m);
    assert.match(metrics, /^kiln_jobs_finished_total\{kind="system\.sleep",outcome="succeeded"\} [1-9]/m);
    assert.match(metrics, /^kiln_job_pickup_seconds_count [1-9]/m);
    assert.match(metrics, /^kiln_job_duration_seconds_bucket\{kind="system\.sleep",le="\+Inf"\} [1-9]/m);
  });

  it('/metrics shows the queue as the database holds it', async () => {
    const later = new Date(Date.now() + 3600_000).toISOString();
    const res = await o.as.post('/jobs', { kind: 'system.fail', run_at: later });
    assert.equal(res.status, 201, res.text);
    const metrics = await (await fetch(`${kiln.url}/metrics`)).text();
    assert.match(metrics, /^# TYPE kiln_jobs_queued gauge$/m);
    assert.match(metrics, /^kiln_jobs_queued\{kind="system\.fail",state="scheduled"\} [1-9]/m);
  });

  it('runs system.noop at once; its result says when its handler started', async () => {
    const res = await o.as.post('/jobs', { kind: 'system.noop' });
    assert.equal(res.status, 201, res.text);
    const done = await until(res.body.id, (x) => x.state === 'succeeded', 'the no-op job to succeed');
    assert.equal(done.attempt, 1);
    assert.deepEqual(Object.keys(done.result), ['started_at']);
    // Microseconds, as bench/jobs reads them; between the claim and the outcome being recorded.
    assert.match(done.result.started_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const started = Date.parse(done.result.started_at);
    assert.ok(started >= Date.parse(done.attempted_at), `${done.result.started_at} ≥ ${done.attempted_at}`);
    assert.ok(started <= Date.parse(done.finished_at), `${done.result.started_at} ≤ ${done.finished_at}`);
  });

  it('retries a failing attempt with backoff and keeps each attempt’s error', async () => {
    const res = await o.as.post('/jobs', { kind: 'system.fail', args: { message: 'flaky', fail_attempts: 1 }, max_attempts: 3 });
    assert.equal(res.status, 201, res.text);
    const done = await until(res.body.id, (x) => x.state === 'succeeded', 'the retry to succeed');
    assert.equal(done.attempt, 2);
    assert.equal(done.errors.length, 1);
    assert.equal(done.errors[0].error, 'flaky');
    assert.equal(done.errors[0].attempt, 1);
  });

  it('is dead after its last attempt, and runs again when retried by hand', async () => {
    const res = await o.as.post('/jobs', { kind: 'system.fail', args: { message: 'always' }, max_attempts: 2 });
    const dead = await until(res.body.id, (x) => x.state === 'dead', 'the job to die');
    assert.deepEqual(dead.errors.map((e) => e.attempt), [1, 2]);
    assertProblem(await o.as.post(`/jobs/${dead.id}/cancel`), 409);
    const again = await o.as.post(`/jobs/${dead.id}/retry`);
    assert.equal(again.status, 200, again.text);
    const dead2 = await until(dead.id, (x) => x.state === 'dead' && x.attempt === 3, 'the retried job to die again');
    assert.equal(dead2.errors.length, 3);
  });

  it('cancels a waiting job at once and a running one at its next check', async () => {
    const later = new Date(Date.now() + 3600_000).toISOString();
    const waiting = (await o.as.post('/jobs', { kind: 'system.sleep', args: { ms: 10 }, run_at: later })).body;
    assert.equal(waiting.state, 'scheduled');
    const cancelled = await o.as.post(`/jobs/${waiting.id}/cancel`);
    assert.equal(cancelled.status, 200, cancelled.text);
    assert.equal(cancelled.body.state, 'cancelled');
    assertProblem(await o.as.post(`/jobs/${waiting.id}/cancel`), 409);

    const long = (await o.as.post('/jobs', { kind: 'system.sleep', args: { ms: 60000 } })).body;
    await until(long.id, (x) => x.state === 'running' && x.progress.percent > 0, 'the long job to run');
    const asked = await o.as.post(`/jobs/${long.id}/cancel`);
    assert.equal(asked.status, 200, asked.text);
    assert.equal(asked.body.cancel_requested, true);
    const ended = await until(long.id, (x) => x.state === 'cancelled', 'the running job to stop');
    assert.ok(ended.progress.percent < 100);
    const events = await o.as.get('/audit-events?action=job.cancel');
    assert.equal(events.body.items.length, 2, 'each accepted cancel audited, not the refused one');
  });

  it('enqueues once per Idempotency-Key or unique_key', async () => {
    const key = `import-${Date.now()}`;
    const headers = { 'idempotency-key': key };
    const first = await o.as.post('/jobs', { kind: 'system.sleep', args: { ms: 1 } }, { headers });
    assert.equal(first.status, 201, first.text);
    const second = await o.as.post('/jobs', { kind: 'system.sleep', args: { ms: 1 } }, { headers });
    assert.equal(second.status, 200, second.text);
    assert.equal(second.body.id, first.body.id);
    const a = await o.as.post('/jobs', { kind: 'system.sleep', args: { ms: 1 }, unique_key: key });
    assert.equal(a.status, 201, 'unique_key and Idempotency-Key are separate keys');
    const b = await o.as.post('/jobs', { kind: 'system.sleep', args: { ms: 1 }, unique_key: key });
    assert.equal(b.body.id, a.body.id);
  });

  it('refuses bad requests field by field and unknown kinds', async () => {
    assertInvalid(await o.as.post('/jobs', { kind: 'nope', args: [], priority: 9, run_at: 'soon', max_attempts: 0 }),
      ['kind', 'args', 'priority', 'run_at', 'max_attempts']);
    assertInvalid(await o.as.post('/jobs', { kind: 'system.unknown' }), ['kind']);
    // A kind's typed args are checked when it is enqueued, not when it runs.
    assertInvalid(await o.as.post('/jobs', { kind: 'system.sleep', args: { ms: 'long', extra: 1 } }),
      ['args.ms', 'args.extra']);
    assertInvalid(await o.as.post('/jobs', { kind: 'system.sleep', args: { ms: -1 } }), ['args.ms']);
    assertInvalid(await o.as.post('/jobs', { kind: 'jobs.batch', children: [{ kind: 'system.sleep', args: { ms: -1 } }] }),
      ['children[0].args.ms']);
    assertInvalid(await o.as.get('/jobs?state=sleeping&limit=0'), ['state', 'limit']);
    assertProblem(await o.as.get('/jobs/not-a-uuid'), 404);
    assertProblem(await o.as.get('/jobs/0190a2b4-0000-7000-8000-00000000dead'), 404);
  });

  it('lets viewers read but not enqueue, and pages the list', async () => {
    const email = uniqueEmail();
    const made = await o.as.post(`/workspaces/${o.workspace.id}/users`, { email, name: 'V', role: 'viewer' });
    const first = await c.login({ email, password: made.body.temporary_password });
    const password = `viewer passphrase ${made.body.member.user_id}`;
    await c.authed(first.access).post('/auth/change-password',
      { current_password: made.body.temporary_password, new_password: password });
    const viewer = c.authed((await c.login({ email, password })).access);
    assertProblem(await viewer.post('/jobs', { kind: 'system.sleep', args: { ms: 1 } }), 403);
    const page = await viewer.get('/jobs?limit=2');
    assert.equal(page.status, 200, page.text);
    assert.equal(page.body.items.length, 2);
    assert.ok(page.body.next_cursor);
    const next = await viewer.get(`/jobs?limit=2&cursor=${page.body.next_cursor}`);
    assert.ok(next.body.items.every((x) => !page.body.items.some((y) => y.id === x.id)), 'pages do not overlap');
  });
});
