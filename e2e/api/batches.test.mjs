// Batches: a parent job (kind jobs.batch) enqueued with its children waits until every child has
// ended, shows their progress ("n of m children done", live on the event stream), then runs and
// returns how they ended; cancelling it cancels the waiting children at once and stops the
// running ones. Bad children are refused whole (422), and another workspace sees none of it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from './lib/kiln.mjs';
import { assertInvalid, assertProblem, launchWithAccount, realtimeTicket, signUp } from './lib/api.mjs';
import { sse } from './lib/sse.mjs';

describe('job batches', { timeout: 90000 }, () => {
  let kiln;
  let c;
  let o;
  before(async () => {
    ({ kiln, c, owner: o } = await launchWithAccount({
      env: { KILN_JOBS_DIAGNOSTIC_KINDS: 'true', KILN_JOBS_POLL_INTERVAL_MS: '100', KILN_JOBS_HEARTBEAT_MS: '50' },
    }));
  });
  after(async () => { if (kiln) assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM'); });

  const job = async (who, id) => {
    const res = await who.as.get(`/jobs/${id}`);
    assert.equal(res.status, 200, res.text);
    return res.body;
  };
  const until = (who, id, pred, what) => eventually(async () => {
    const j = await job(who, id);
    return pred(j) ? j : false;
  }, { what, timeoutMs: 20000, intervalMs: 25 });
  const children = async (who, id, query = '') => {
    const res = await who.as.get(`/jobs?batch=${id}${query}`);
    assert.equal(res.status, 200, res.text);
    return res.body.items;
  };

  it('runs the parent once all its children have ended, with their counts as its result', async () => {
    const stream = sse(`${kiln.url}/api/v1/events?ticket=${(await realtimeTicket(o.as)).ticket}`);
    await stream.opened();
    assert.equal(stream.status(), 200);

    const res = await o.as.post('/jobs', {
      kind: 'jobs.batch',
      children: [
        { kind: 'system.sleep', args: { ms: 50 } },
        { kind: 'system.sleep', args: { ms: 50 } },
        { kind: 'system.fail', args: { message: 'this child fails' }, max_attempts: 1 },
      ],
    });
    assert.equal(res.status, 201, res.text);
    const parent = res.body;
    assert.equal(parent.kind, 'jobs.batch');
    assert.equal(parent.state, 'scheduled', 'waits for its children');
    assert.equal(parent.run_at, null, 'no time of its own: it runs when its children have ended');
    assert.equal(parent.parent_id, null);
    assert.equal(parent.attempt, 0);
    assert.deepEqual(parent.batch, { total: 3, succeeded: 0, dead: 0, cancelled: 0 });
    assert.deepEqual(parent.progress, { percent: 0, message: '0 of 3 children done', detail: {} });

    const listed = await children(o, parent.id);
    assert.equal(listed.length, 3, 'GET /jobs?batch= lists the children');
    assert.deepEqual(listed.map((j) => j.kind).sort(), ['system.fail', 'system.sleep', 'system.sleep']);
    for (const child of listed) {
      assert.equal(child.parent_id, parent.id);
      assert.equal(child.batch, null, 'a child is no batch itself');
    }

    const done = await until(o, parent.id, (j) => j.state === 'succeeded', 'the batch to succeed');
    assert.deepEqual(done.result, { total: 3, succeeded: 2, dead: 1, cancelled: 0 });
    assert.deepEqual(done.batch, done.result);
    assert.equal(done.attempt, 1, 'the parent ran once');
    assert.equal(done.progress.percent, 100);
    assert.equal(done.progress.message, '3 of 3 children done');

    const ended = await children(o, parent.id);
    assert.deepEqual(ended.map((j) => j.state).sort(), ['dead', 'succeeded', 'succeeded']);
    assert.equal(ended.find((j) => j.state === 'dead').errors[0].error, 'this child fails');
    for (const child of ended) {
      assert.ok(Date.parse(child.finished_at) <= Date.parse(done.attempted_at),
        `the parent started (${done.attempted_at}) after every child ended (${child.finished_at})`);
    }

    // The parent's progress went out live, one step per child, in order.
    await stream.until((ev) => ev.some((e) => e.data.job_id === parent.id && e.event === 'job.succeeded'),
      'the parent’s success on the event stream');
    await stream.close();
    const mine = stream.events.filter((e) => e.data.job_id === parent.id).sort((x, y) => Number(x.id) - Number(y.id));
    assert.deepEqual(mine.map((e) => [e.event, e.data.progress.message, e.data.progress.percent]), [
      ['job.scheduled', '0 of 3 children done', 0],
      ['job.progress', '1 of 3 children done', 33],
      ['job.progress', '2 of 3 children done', 66],
      ['job.available', '3 of 3 children done', 100], // the last child's end wakes the parent
      ['job.running', '3 of 3 children done', 100],
      ['job.succeeded', '3 of 3 children done', 100],
    ]);
  });

  it('cancelling the parent cancels its waiting children at once and stops its running ones', async () => {
    // Long children (they check for a cancel every 1.5 s): only a cancel ends them within the
    // test. The free plan runs two at once, so the third waits.
    const res = await o.as.post('/jobs', {
      kind: 'jobs.batch',
      children: [1, 2, 3].map(() => ({ kind: 'system.sleep', args: { ms: 30000 } })),
    });
    assert.equal(res.status, 201, res.text);
    const parent = res.body;
    const started = await eventually(async () => {
      const list = await children(o, parent.id);
      return list.filter((j) => j.state === 'running').length === 2 && list;
    }, { what: 'two children to run', timeoutMs: 20000, intervalMs: 25 });
    const waiting = started.filter((j) => j.state !== 'running');
    assert.equal(waiting.length, 1, 'one child waits');

    const cancel = await o.as.post(`/jobs/${parent.id}/cancel`);
    assert.equal(cancel.status, 200, cancel.text);
    assert.equal(cancel.body.state, 'cancelled', 'a waiting parent is cancelled at once');
    const now = await children(o, parent.id);
    for (const child of now) {
      if (waiting.some((w) => w.id === child.id)) {
        assert.equal(child.state, 'cancelled', 'the waiting child is cancelled in the same transaction');
      } else {
        assert.ok(child.cancel_requested || child.state === 'cancelled', `a running child is asked to stop: ${JSON.stringify(child)}`);
      }
    }

    const stopped = await eventually(async () => {
      const list = await children(o, parent.id);
      return list.every((j) => j.state === 'cancelled') && list;
    }, { what: 'every child to end cancelled', timeoutMs: 10000, intervalMs: 50 });
    for (const child of stopped) assert.ok(child.progress.percent < 100, 'its handler stopped early');
    const last = await until(o, parent.id, (j) => j.batch.cancelled === 3, 'the parent to count its cancelled children');
    assert.equal(last.state, 'cancelled');
    assert.deepEqual(last.batch, { total: 3, succeeded: 0, dead: 0, cancelled: 3 });
    assert.equal(last.attempt, 0, 'a cancelled batch never runs');
    assert.equal(last.result, null);
    assertProblem(await o.as.post(`/jobs/${parent.id}/cancel`), 409);
    assertProblem(await o.as.post(`/jobs/${stopped[0].id}/cancel`), 409);
  });

  it('refuses bad children, and a batch with a run_at, unique key or Idempotency-Key, enqueuing nothing', async () => {
    const v = await signUp(c);
    const batch = (extra) => ({ kind: 'jobs.batch', children: [{ kind: 'system.sleep' }], ...extra });
    assertInvalid(await v.as.post('/jobs', batch({ children: [{ kind: 'nope.never' }] })), ['children[0].kind']);
    assertInvalid(await v.as.post('/jobs', batch({
      children: [{ kind: 'system.sleep' }, { kind: 'Not A Kind', args: [1], priority: 9, max_attempts: 0, queue: '-' }],
    })), ['children[1].kind', 'children[1].args', 'children[1].priority', 'children[1].max_attempts',
      'children[1].queue']);
    assertInvalid(await v.as.post('/jobs', batch({ children: [] })), ['children']);
    assertInvalid(await v.as.post('/jobs', batch({ children: 'all of them' })));
    assertInvalid(await v.as.post('/jobs', batch({ run_at: '2030-01-01T00:00:00Z', unique_key: 'k' })),
      ['run_at', 'unique_key']);
    assertInvalid(await v.as.post('/jobs', batch(), { headers: { 'idempotency-key': 'once' } }), ['Idempotency-Key']);
    assertInvalid(await v.as.post('/jobs', batch({ kind: 'nope.never' })), ['kind']);
    assertInvalid(await v.as.get('/jobs?batch=not-an-id'), ['batch']);
    const all = await v.as.get('/jobs');
    assert.deepEqual(all.body.items, [], 'nothing was enqueued');
  });

  it('shows another workspace nothing of a batch', async () => {
    const parent = (await o.as.post('/jobs', {
      kind: 'jobs.batch', children: [{ kind: 'system.sleep', args: { ms: 1 } }],
    })).body;
    const stranger = await signUp(c);
    assertProblem(await stranger.as.get(`/jobs/${parent.id}`), 404);
    assert.deepEqual(await children(stranger, parent.id), []);
    assertProblem(await stranger.as.post(`/jobs/${parent.id}/cancel`), 404);
    await until(o, parent.id, (j) => j.state === 'succeeded', 'the batch to succeed');
    assert.equal((await children(o, parent.id)).length, 1);
  });
});
