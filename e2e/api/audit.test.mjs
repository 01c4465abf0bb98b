// GET /api/v1/audit-events: what was done in a workspace, by whom, for its admins.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { launchKiln } from './lib/kiln.mjs';

describe('audit trail', { timeout: 60000 }, () => {
  let kiln;
  before(async () => { kiln = await launchKiln({ env: { KILN_AUTH_REGISTRATIONS_PER_IP_HOUR: '100000' } }); });
  after(async () => { if (kiln) assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM'); });

  const post = (path, body, token) => fetch(`${kiln.url}/api/v1${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const get = (path, token) => fetch(`${kiln.url}/api/v1${path}`,
    { headers: token ? { Authorization: `Bearer ${token}` } : {} });

  async function account() {
    const email = `${randomUUID()}@example.com`;
    const password = `correct horse ${randomUUID()}`;
    const reg = await post('/auth/register', { email, password, name: 'Auditor' });
    assert.equal(reg.status, 201);
    const { user } = await reg.json();
    const login = await post('/auth/login', { email, password });
    assert.equal(login.status, 200);
    return { id: user.id, token: (await login.json()).access_token };
  }

  it('records each mutation with actor, target, address and request id; newest first', async () => {
    const a = await account();
    const patch = await fetch(`${kiln.url}/api/v1/auth/me`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${a.token}`, 'X-Request-Id': 'audit-me-1' },
      body: JSON.stringify({ name: 'Renamed' }),
    });
    assert.equal(patch.status, 200);
    const res = await get('/audit-events', a.token);
    assert.equal(res.status, 200);
    const { items, next_cursor: next } = await res.json();
    assert.equal(next, null);
    assert.deepEqual(items.map((e) => e.action), ['user.update', 'auth.login', 'auth.register']);
    const update = items[0];
    assert.equal(update.actor_user_id, a.id);
    assert.equal(update.target_type, 'user');
    assert.equal(update.target_id, a.id);
    assert.equal(update.ip, '127.0.0.1');
    assert.equal(update.request_id, 'audit-me-1');
    assert.match(update.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  it('filters by action and actor, and pages with a cursor without repeating or losing events', async () => {
    const a = await account();
    for (let i = 0; i < 3; i += 1) {
      const r = await fetch(`${kiln.url}/api/v1/auth/me`, {
        method: 'PATCH', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${a.token}` },
        body: JSON.stringify({ name: `N${i}` }),
      });
      assert.equal(r.status, 200);
    }
    const only = await (await get('/audit-events?action=user.update', a.token)).json();
    assert.equal(only.items.length, 3);
    assert.ok(only.items.every((e) => e.action === 'user.update'));
    const byActor = await (await get(`/audit-events?actor=${a.id}`, a.token)).json();
    assert.equal(byActor.items.length, 5);
    const nobody = await (await get(`/audit-events?actor=${randomUUID()}`, a.token)).json();
    assert.equal(nobody.items.length, 0);

    const seen = [];
    let cursor = null;
    for (let page = 0; page < 10; page += 1) {
      const q = `/audit-events?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const body = await (await get(q, a.token)).json();
      assert.ok(body.items.length <= 2);
      seen.push(...body.items.map((e) => e.id));
      cursor = body.next_cursor;
      if (!cursor) break;
    }
    assert.equal(cursor, null);
    assert.deepEqual(seen, byActor.items.map((e) => e.id), 'pages join up to the whole list in order');
  });

  it('shows a workspace only its own events', async () => {
    const a = await account();
    const b = await account();
    const seen = await (await get('/audit-events', b.token)).json();
    assert.ok(seen.items.every((e) => e.actor_user_id === b.id), JSON.stringify(seen.items));
    const filtered = await (await get(`/audit-events?actor=${a.id}`, b.token)).json();
    assert.deepEqual(filtered.items, []);
  });

  it('answers bad parameters with 422 naming each, and no token with 401', async () => {
    const a = await account();
    const res = await get('/audit-events?limit=0&actor=nope&cursor=not-a-cursor', a.token);
    assert.equal(res.status, 422);
    const fields = (await res.json()).errors.map((e) => e.field).sort();
    assert.deepEqual(fields, ['actor', 'cursor', 'limit']);
    const bad = await get('/audit-events?since=yesterday', a.token);
    assert.equal(bad.status, 422);
    assert.deepEqual((await bad.json()).errors.map((e) => e.field), ['since']);
    const garbled = await get('/audit-events?cursor=%%%', a.token);
    assert.equal(garbled.status, 400, 'a malformed query string is refused, not ignored');
    const anon = await get('/audit-events');
    assert.equal(anon.status, 401);
    assert.equal(anon.headers.get('www-authenticate'), 'Bearer');
  });
});
