// Realtime tickets (POST /api/v1/realtime/tickets → ?ticket=): what a browser's EventSource and
// WebSocket authenticate with, since they cannot send headers. A ticket opens one SSE stream or
// WebSocket of its caller's workspace, once; a spent, expired, unknown or malformed one is 401,
// and a long-lived token in the URL (?access_token=) authenticates nothing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertProblem, launchWithAccount, realtimeTicket, signUp } from './lib/api.mjs';
import { eventually } from './lib/kiln.mjs';
import { sse } from './lib/sse.mjs';
import { psql } from './lib/workers.mjs';
import { openSocket } from './lib/ws.mjs';

describe('realtime tickets', { timeout: 120000 }, () => {
  let kiln;
  let c;
  let o;
  before(async () => {
    ({ kiln, c, owner: o } = await launchWithAccount({ env: { KILN_JOBS_DIAGNOSTIC_KINDS: 'true' } }));
  });
  after(async () => { if (kiln) assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM'); });

  const url = (path) => `${kiln.url}/api/v1${path}`;
  const wsUrl = (query) => `${kiln.url.replace(/^http/, 'ws')}/api/v1/ws${query}`;
  // A GET with no Authorization header, answered as problem+json.
  async function getProblem(path, status) {
    const res = await fetch(url(path));
    const text = await res.text();
    let body;
    try { body = JSON.parse(text); } catch { body = undefined; }
    return assertProblem({ status: res.status, headers: res.headers, text, body }, status);
  }
  // An upgrade the server refuses, checked as problem+json.
  async function refusedUpgrade(query, status) {
    const refused = await openSocket(wsUrl(query)).then(() => null, (e) => e);
    assert.ok(refused?.status, `the upgrade is refused: ${refused}`);
    return assertProblem({ status: refused.status, headers: new Headers(refused.headers), text: refused.text,
      body: refused.body }, status);
  }
  async function enqueue(who, ms = 1) {
    const res = await who.as.post('/jobs', { kind: 'system.sleep', args: { ms } });
    assert.equal(res.status, 201, res.text);
    return res.body;
  }

  it('issues a ticket that expires within the configured 30 s', async () => {
    const before_ = Date.now();
    const t = await realtimeTicket(o.as);
    const ttl = Date.parse(t.expires_at) - before_;
    assert.ok(ttl > 25000 && ttl <= 31000, `expires in about 30 s: ${t.expires_at}`);
    assert.notEqual((await realtimeTicket(o.as)).ticket, t.ticket, 'each ticket is new');
    const anon = await c.call('POST', '/realtime/tickets');
    assertProblem(anon, 401);
  });

  it('opens an SSE stream once: the same ticket again is 401', async () => {
    const { ticket } = await realtimeTicket(o.as);
    const stream = sse(url(`/events?ticket=${ticket}`));
    await stream.opened();
    assert.equal(stream.status(), 200);
    const job = await enqueue(o);
    await stream.until((ev) => ev.some((e) => e.event === 'job.succeeded' && e.data.job_id === job.id),
      'the job’s success on the ticket’s stream');
    await stream.close();
    await getProblem(`/events?ticket=${ticket}`, 401);
    await refusedUpgrade(`?ticket=${ticket}`, 401);
  });

  it('opens a WebSocket once: the same ticket again is 401', async () => {
    const { ticket } = await realtimeTicket(o.as);
    const s = await openSocket(wsUrl(`?ticket=${ticket}`));
    s.send({ type: 'subscribe', workspace: true });
    await s.until((m) => m.some((x) => x.type === 'subscribed'), 'the subscription');
    const job = await enqueue(o);
    await s.until((m) => m.some((x) => x.type === 'event' && x.event === 'job.succeeded' && x.data.job_id === job.id),
      'the job’s success on the ticket’s socket');
    await s.close();
    await refusedUpgrade(`?ticket=${ticket}`, 401);
    await getProblem(`/events?ticket=${ticket}`, 401);
  });

  it('opens a job’s stream with a ticket of its workspace; another workspace’s ticket gets 404', async () => {
    const b = await signUp(c);
    const job = await enqueue(o, 100);
    const own = sse(url(`/jobs/${job.id}/events?ticket=${(await realtimeTicket(o.as)).ticket}`), { 'last-event-id': '0' });
    await own.until((ev) => ev.some((e) => e.event === 'job.succeeded'), 'the job’s history');
    await own.close();
    await getProblem(`/jobs/${job.id}/events?ticket=${(await realtimeTicket(b.as)).ticket}`, 404);
  });

  it('a ticket asked for with an API key stands for the key', async () => {
    const made = await o.as.post(`/workspaces/${o.workspace.id}/api-keys`, { name: 'stream reader', role: 'viewer' });
    assert.equal(made.status, 201, made.text);
    const { ticket } = await realtimeTicket(c.authed(made.body.key));
    const stream = sse(url(`/events?ticket=${ticket}`));
    await stream.opened();
    assert.equal(stream.status(), 200);
    await stream.close();
    // Revoked after the ticket was issued: the ticket opens nothing either.
    const { ticket: later } = await realtimeTicket(c.authed(made.body.key));
    assert.equal((await o.as.delete(`/workspaces/${o.workspace.id}/api-keys/${made.body.api_key.id}`)).status, 204);
    await getProblem(`/events?ticket=${later}`, 401);
  });

  it('refuses an expired, unknown or malformed ticket, and none at all, with 401', async () => {
    const { ticket } = await realtimeTicket(o.as);
    // Expired without waiting: the row's expiry moved into the past (as the superuser: the
    // application role cannot read or change tickets).
    const row = `token_hash = sha256(convert_to('${ticket}', 'UTF8'))`;
    assert.equal(psql(kiln.database, `UPDATE realtime_tickets SET expires_at = now() - interval '1 second' WHERE ${row} `
      + 'RETURNING 1'), '1');
    await getProblem(`/events?ticket=${ticket}`, 401);
    const unknown = Buffer.alloc(32, 7).toString('base64url');
    for (const query of [`?ticket=${unknown}`, '?ticket=not-a-ticket', '?ticket=', '']) {
      await getProblem(`/events${query}`, 401);
      await refusedUpgrade(query, 401);
    }
    assert.equal(psql(kiln.database, `SELECT count(*) FROM realtime_tickets WHERE ${row}`), '0', 'spent all the same');
  });

  it('no longer takes a token in the URL (?access_token=)', async () => {
    const job = await enqueue(o);
    await getProblem(`/events?access_token=${o.token}`, 401);
    await getProblem(`/jobs/${job.id}/events?access_token=${o.token}`, 401);
    await refusedUpgrade(`?access_token=${o.token}`, 401);
  });

  it('keeps tickets out of the access log, and documents the route', async () => {
    const streamLine = (l) => l.msg === 'request' && l.path === '/api/v1/events' && l.stream === true;
    const logged = kiln.logs.filter(streamLine).length;
    const { ticket } = await realtimeTicket(o.as);
    const stream = sse(url(`/events?ticket=${ticket}`));
    await stream.opened();
    await stream.close();
    await eventually(() => kiln.logs.filter(streamLine).length > logged, { what: 'the stream’s access-log line' });
    assert.ok(!kiln.output().includes(ticket), 'the ticket is not logged');

    const doc = await (await fetch(`${kiln.url}/openapi.json`)).json();
    const op = doc.paths['/api/v1/realtime/tickets']?.post;
    assert.ok(op, 'POST /api/v1/realtime/tickets is documented');
    const schema = op.responses['201']?.content?.['application/json']?.schema;
    assert.ok(schema, `a 201 JSON response: ${JSON.stringify(op.responses)}`);
    const resolved = schema.$ref ? doc.components.schemas[schema.$ref.split('/').at(-1)] : schema;
    assert.deepEqual(Object.keys(resolved.properties).sort(), ['expires_at', 'ticket']);
    for (const p of ['/api/v1/events', '/api/v1/jobs/{id}/events', '/api/v1/ws']) {
      assert.match(doc.paths[p].get.description, /\?ticket=/, `${p} describes the ticket`);
      assert.doesNotMatch(doc.paths[p].get.description, /access_token/, `${p} no longer offers ?access_token=`);
    }
  });
});
