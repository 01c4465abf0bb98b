// Live job events over Server-Sent Events: a job's progress as it runs, the workspace stream,
// resuming with Last-Event-ID, and no event of another workspace ever reaching a client.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, launchKiln } from './lib/kiln.mjs';
import { apiClient, assertProblem, realtimeTicket } from './lib/api.mjs';
import { sse } from './lib/sse.mjs';

describe('job events', { timeout: 120000 }, () => {
  let kiln;
  let c;
  before(async () => {
    kiln = await launchKiln({
      env: { KILN_AUTH_REGISTRATIONS_PER_IP_HOUR: '100000', KILN_JOBS_DIAGNOSTIC_KINDS: 'true' },
    });
    c = apiClient(kiln);
  });
  after(async () => { if (kiln) assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM'); });

  async function owner() {
    const account = await c.register();
    const { access } = await c.login(account);
    return { ...account, token: access, as: c.authed(access) };
  }
  const url = (path) => `${kiln.url}/api/v1${path}`;

  it('streams a job’s progress live and only its own workspace’s events', async () => {
    const a = await owner();
    const b = await owner();
    const streamA = sse(url('/events'), { authorization: `Bearer ${a.token}` });
    // B as a browser: no Authorization header, a single-use ticket in the URL.
    const streamB = sse(url(`/events?ticket=${(await realtimeTicket(b.as)).ticket}`));
    await eventually(() => streamA.status() && streamB.status(), { what: 'both streams to open' });
    assert.equal(streamA.status(), 200);
    assert.match(streamA.contentType(), /^text\/event-stream/);
    const job = (await a.as.post('/jobs', { kind: 'system.sleep', args: { ms: 300 } })).body;
    await streamA.until((ev) => ev.some((e) => e.event === 'job.succeeded' && e.data.job_id === job.id),
      'the success event');
    const types = streamA.events.filter((e) => e.data.job_id === job.id).map((e) => e.event);
    assert.equal(types[0], 'job.available');
    assert.ok(types.includes('job.running'));
    assert.ok(types.includes('job.progress'));
    assert.equal(types.at(-1), 'job.succeeded');
    const ids = streamA.events.map((e) => Number(e.id));
    assert.deepEqual(ids, [...ids].sort((x, y) => x - y), 'ids increase');
    // B's own job shows up on B's stream, so B's stream works — and it never saw A's.
    const bJob = (await b.as.post('/jobs', { kind: 'system.sleep', args: { ms: 1 } })).body;
    await streamB.until((ev) => ev.some((e) => e.data.job_id === bJob.id && e.event === 'job.succeeded'), 'B’s event');
    assert.ok(streamB.events.every((e) => e.data.job_id !== job.id), 'no event of another workspace');
    assert.ok(streamA.events.every((e) => e.data.job_id !== bJob.id), 'no event of another workspace');
    await streamA.close();
    await streamB.close();
  });

  it('replays what happened after Last-Event-ID, for one job', async () => {
    const a = await owner();
    const job = (await a.as.post('/jobs', { kind: 'system.sleep', args: { ms: 100 } })).body;
    await eventually(async () => (await a.as.get(`/jobs/${job.id}`)).body.state === 'succeeded', { what: 'success' });
    const all = sse(url(`/jobs/${job.id}/events`), { authorization: `Bearer ${a.token}`, 'last-event-id': '0' });
    await all.until((ev) => ev.some((e) => e.event === 'job.succeeded'), 'the replayed history');
    await all.close();
    assert.equal(all.events[0].event, 'job.available');
    const middle = all.events[1].id;
    const rest = sse(url(`/jobs/${job.id}/events?last_event_id=${middle}`), { authorization: `Bearer ${a.token}` });
    await rest.until((ev) => ev.some((e) => e.event === 'job.succeeded'), 'the rest');
    await rest.close();
    assert.deepEqual(rest.events.map((e) => e.id), all.events.slice(2).map((e) => e.id));
  });

  it('refuses another workspace’s job stream with 404 and a missing token with 401', async () => {
    const a = await owner();
    const b = await owner();
    const job = (await b.as.post('/jobs', { kind: 'system.sleep', args: { ms: 1 } })).body;
    const res = await fetch(url(`/jobs/${job.id}/events`), { headers: { authorization: `Bearer ${a.token}` } });
    assertProblem({ status: res.status, headers: res.headers, text: '', body: await res.json() }, 404);
    const anon = await fetch(url('/events'));
    assert.equal(anon.status, 401);
    await anon.body?.cancel();
  });
});
