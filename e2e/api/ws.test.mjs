// Job events over a WebSocket (GET /api/v1/ws): job and workspace subscriptions, replay with
// `after`, tenant isolation, refusal without a token, bad messages answered without dropping the
// connection, the limits (1009, 1008) and the close on shutdown (1001).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { launchKiln } from './lib/kiln.mjs';
import { apiClient, assertProblem, realtimeTicket } from './lib/api.mjs';
import { openSocket } from './lib/ws.mjs';

const kilnEnv = {
  KILN_AUTH_REGISTRATIONS_PER_IP_HOUR: '100000',
  KILN_JOBS_DIAGNOSTIC_KINDS: 'true',
  KILN_JOBS_POLL_INTERVAL_MS: '200', // scheduled jobs become available promptly
};

const eventsOf = (messages, jobId) => messages.filter((m) => m.type === 'event' && (!jobId || m.data.job_id === jobId));
const succeeded = (jobId) => (messages) => eventsOf(messages, jobId).some((e) => e.event === 'job.succeeded');
// A job that waits a little before it may run: there is time to subscribe to it first.
const soon = () => new Date(Date.now() + 1500).toISOString();

describe('job events over a WebSocket', { timeout: 180000 }, () => {
  let kiln;
  let c;
  before(async () => {
    kiln = await launchKiln({ env: kilnEnv });
    c = apiClient(kiln);
  });
  after(async () => { if (kiln) assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM'); });

  const wsUrl = (query = '') => `${kiln.url.replace(/^http/, 'ws')}/api/v1/ws${query}`;
  async function owner() {
    const account = await c.register();
    const { access } = await c.login(account);
    return { ...account, token: access, as: c.authed(access) };
  }
  const socketOf = (o) => openSocket(wsUrl(), { headers: { authorization: `Bearer ${o.token}` } });
  async function enqueue(o, body) {
    const res = await o.as.post('/jobs', body);
    assert.equal(res.status, 201, res.text);
    return res.body;
  }
  // Sends a message and resolves with the first answer that follows it.
  async function ask(socket, message) {
    const from = socket.messages.length;
    socket.send(message);
    await socket.until((m) => m.length > from, `an answer to ${JSON.stringify(message)}`);
    return socket.messages[from];
  }

  it('relays a job’s events live to a subscription of that job', async () => {
    const a = await owner();
    const job = await enqueue(a, { kind: 'system.sleep', args: { ms: 200 }, run_at: soon() });
    assert.equal(job.state, 'scheduled');
    const s = await socketOf(a);
    assert.deepEqual(await ask(s, { type: 'subscribe', job_id: job.id }), { type: 'subscribed', job_id: job.id });
    await s.until(succeeded(job.id), 'job.succeeded');
    const events = eventsOf(s.messages);
    const types = events.map((e) => e.event);
    assert.equal(types[0], 'job.available', `live from the start: ${types}`);
    assert.ok(types.includes('job.running'), types.join());
    assert.ok(types.includes('job.progress'), types.join());
    assert.equal(types.at(-1), 'job.succeeded');
    for (const e of events) {
      assert.deepEqual(Object.keys(e).sort(), ['data', 'event', 'id', 'type']);
      assert.equal(typeof e.id, 'number');
      assert.equal(e.data.job_id, job.id);
      assert.equal(e.data.kind, 'system.sleep');
    }
    const ids = events.map((e) => e.id);
    assert.deepEqual(ids, [...ids].sort((x, y) => x - y), 'ids increase');
    assert.equal(events.at(-1).data.state, 'succeeded');
    await s.close();
  });

  it('relays the workspace’s events, and replays the persisted ones after `after`', async () => {
    const a = await owner();
    // A browser cannot set headers on a WebSocket: a single-use ticket travels in the query.
    const s = await openSocket(wsUrl(`?ticket=${(await realtimeTicket(a.as)).ticket}`));
    assert.deepEqual(await ask(s, { type: 'subscribe', workspace: true }), { type: 'subscribed', workspace: true });
    const job = await enqueue(a, { kind: 'system.sleep', args: { ms: 100 } });
    await s.until(succeeded(job.id), 'job.succeeded');
    const live = eventsOf(s.messages, job.id);
    assert.equal(live[0].event, 'job.available');
    assert.ok(live.length >= 4, live.map((e) => e.event).join());
    await s.close();

    const r = await socketOf(a);
    assert.deepEqual(await ask(r, { type: 'subscribe', workspace: true, after: live[1].id }),
      { type: 'subscribed', workspace: true });
    await r.until(succeeded(job.id), 'the replay');
    assert.deepEqual(eventsOf(r.messages).map((e) => e.id), live.slice(2).map((e) => e.id), 'exactly what followed');
    assert.deepEqual(eventsOf(r.messages), live.slice(2), 'the same events');

    // A job subscription from 0 replays the job's whole history.
    const mark = r.messages.length;
    r.send({ type: 'subscribe', job_id: job.id, after: 0 });
    await r.until((m) => succeeded(job.id)(m.slice(mark)), 'the job’s replay');
    assert.deepEqual(r.messages[mark], { type: 'subscribed', job_id: job.id });
    assert.deepEqual(eventsOf(r.messages.slice(mark)), live);
    await r.close();
  });

  it('never shows a workspace another workspace’s events, and answers its job ids with 404', async () => {
    const a = await owner();
    const b = await owner();
    const sa = await socketOf(a);
    const sb = await socketOf(b);
    await ask(sa, { type: 'subscribe', workspace: true });
    await ask(sb, { type: 'subscribe', workspace: true });
    const aJob = await enqueue(a, { kind: 'system.sleep', args: { ms: 1 } });
    await sa.until(succeeded(aJob.id), 'A’s job on A’s socket');

    // B names A's job, with a replay from the beginning: 404, as for an id that names no job.
    const stolen = await ask(sb, { type: 'subscribe', job_id: aJob.id, after: 0 });
    assert.deepEqual(stolen, { type: 'error', status: 404, detail: 'No such job.', job_id: aJob.id });
    const unknown = '0190a2b4-0000-7000-8000-00000000ffff';
    assert.deepEqual(await ask(sb, { type: 'subscribe', job_id: unknown }),
      { type: 'error', status: 404, detail: 'No such job.', job_id: unknown });

    // B's socket still works: its own job arrives — and nothing of A's ever did.
    const bJob = await enqueue(b, { kind: 'system.sleep', args: { ms: 1 } });
    await sb.until(succeeded(bJob.id), 'B’s job on B’s socket');
    assert.ok(sb.messages.every((m) => m.type !== 'event' || m.data.job_id === bJob.id), 'only B’s events on B');
    assert.ok(sa.messages.every((m) => m.type !== 'event' || m.data.job_id === aJob.id), 'only A’s events on A');
    assert.equal(sb.closed(), null);
    await sa.close();
    await sb.close();
  });

  it('refuses an upgrade without a valid token with 401 problem+json, and a plain GET with 426', async () => {
    for (const url of [wsUrl(), wsUrl('?ticket=not-a-ticket')]) {
      const refused = await openSocket(url).then(() => null, (e) => e);
      assert.ok(refused?.status, `the upgrade is refused: ${refused}`);
      assertProblem({ status: refused.status, headers: new Headers(refused.headers), text: refused.text,
        body: refused.body }, 401);
    }
    const a = await owner();
    const plain = await a.as.get('/ws');
    assertProblem(plain, 426);
    assert.equal(plain.headers.get('upgrade'), 'websocket');
  });

  it('answers bad messages with an error and keeps the connection', async () => {
    const a = await owner();
    const s = await socketOf(a);
    for (const bad of ['not json', Buffer.from([1, 2, 3]), { type: 'listen', workspace: true }, { type: 'subscribe' },
      { type: 'subscribe', workspace: true, after: -1 }]) {
      const answer = await ask(s, bad);
      assert.equal(answer.type, 'error', JSON.stringify(answer));
      assert.equal(answer.status, 400);
      assert.equal(typeof answer.detail, 'string');
    }
    assert.deepEqual(await ask(s, { type: 'subscribe', workspace: true }), { type: 'subscribed', workspace: true });
    const twice = await ask(s, { type: 'subscribe', workspace: true });
    assert.equal(twice.status, 409);
    assert.deepEqual(await ask(s, { type: 'unsubscribe', workspace: true }), { type: 'unsubscribed', workspace: true });

    // With the workspace feed gone, a job subscription alone delivers each event once.
    const job = await enqueue(a, { kind: 'system.sleep', args: { ms: 50 }, run_at: soon() });
    assert.deepEqual(await ask(s, { type: 'subscribe', job_id: job.id }), { type: 'subscribed', job_id: job.id });
    await s.until(succeeded(job.id), 'job.succeeded');
    const ids = eventsOf(s.messages).map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, `no event twice: ${ids}`);
    assert.equal(s.closed(), null);
    await s.close();
  });

  it('closes with 1009 for a message over 64 KiB', async () => {
    const a = await owner();
    const s = await socketOf(a);
    s.send(JSON.stringify({ type: 'subscribe', workspace: true, padding: 'x'.repeat(64 * 1024) }));
    const closed = await s.whenClosed();
    assert.equal(closed.code, 1009);
  });

  it('closes with 1008 past 32 subscriptions', async () => {
    const a = await owner();
    const later = new Date(Date.now() + 3600_000).toISOString();
    const jobs = [];
    for (let i = 0; i < 32; i++) jobs.push(await enqueue(a, { kind: 'system.sleep', args: { ms: 1 }, run_at: later }));
    const s = await socketOf(a);
    for (const job of jobs) s.send({ type: 'subscribe', job_id: job.id });
    await s.until((m) => m.filter((x) => x.type === 'subscribed').length === 32, '32 subscriptions');
    s.send({ type: 'subscribe', workspace: true });
    const closed = await s.whenClosed();
    assert.equal(closed.code, 1008);
    assert.match(closed.reason, /too many subscriptions/);
  });

  it('closes with 1008 when a command finds the session ended', async () => {
    const a = await owner();
    const s = await socketOf(a);
    assert.deepEqual(await ask(s, { type: 'subscribe', workspace: true }), { type: 'subscribed', workspace: true });
    assert.equal((await a.as.post('/auth/logout')).status, 204);
    s.send({ type: 'subscribe', job_id: '0190a2b4-0000-7000-8000-00000000ffff' });
    const closed = await s.whenClosed();
    assert.equal(closed.code, 1008);
    assert.match(closed.reason, /session has ended/);
    assert.ok(s.messages.every((m) => m.type !== 'error'), 'no answer but the close');
  });

  it('is listed in /openapi.json as a GET answered 101', async () => {
    const doc = await (await fetch(`${kiln.url}/openapi.json`)).json();
    const op = doc.paths['/api/v1/ws']?.get;
    assert.ok(op, 'GET /api/v1/ws is documented');
    assert.ok(op.responses['101'], JSON.stringify(op.responses));
    assert.match(op.description, /subscribe/);
  });
});

describe('job event sockets at shutdown', { timeout: 60000 }, () => {
  it('are closed with 1001 when kiln stops', async () => {
    const kiln = await launchKiln({ env: kilnEnv });
    let code;
    try {
      const c = apiClient(kiln);
      const account = await c.register();
      const { access } = await c.login(account);
      const s = await openSocket(`${kiln.url.replace(/^http/, 'ws')}/api/v1/ws`,
        { headers: { authorization: `Bearer ${access}` } });
      s.send({ type: 'subscribe', workspace: true });
      await s.until((m) => m.length === 1, 'subscribed');
      const t0 = Date.now();
      kiln.proc.kill('SIGTERM');
      const closed = await s.whenClosed();
      assert.equal(closed.code, 1001);
      assert.ok(Date.now() - t0 < 5000, 'at once, not after the grace period');
    } finally {
      code = await kiln.close();
    }
    assert.equal(code, 0, 'kiln exits 0');
  });
});
