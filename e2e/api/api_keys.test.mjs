// API keys (POST/GET/DELETE /workspaces/{id}/api-keys, `Authorization: Bearer kiln_…`) and plan
// limits (GET /workspaces/{id}/plan, 402 naming the limit), over HTTP.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from './lib/kiln.mjs';
import { apiClient, assertInvalid, assertProblem, assertUnauthorized, launchForManyAccounts, uniqueEmail } from './lib/api.mjs';

describe('API keys and plan limits', { timeout: 120000 }, () => {
  let kiln;
  let c;
  before(async () => {
    kiln = await launchForManyAccounts();
    c = apiClient(kiln);
  });
  after(async () => { if (kiln) assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM'); });

  async function owner() {
    const account = await c.register();
    const { access } = await c.login(account);
    return { ...account, token: access, ws: account.workspace.id, as: c.authed(access) };
  }

  const issued = [];
  async function createKey(o, body) {
    const res = await o.as.post(`/workspaces/${o.ws}/api-keys`, body);
    assert.equal(res.status, 201, res.text);
    issued.push(res.body.key);
    return res.body;
  }

  // A managed member of `o`'s workspace with `role`, password changed, signed in.
  async function member(o, role) {
    const email = uniqueEmail();
    const made = await o.as.post(`/workspaces/${o.ws}/users`, { email, name: 'Member', role });
    assert.equal(made.status, 201, made.text);
    const first = await c.login({ email, password: made.body.temporary_password });
    const password = `new passphrase ${made.body.member.user_id}`;
    const changed = await c.authed(first.access).post('/auth/change-password',
      { current_password: made.body.temporary_password, new_password: password });
    assert.equal(changed.status, 204, changed.text);
    const { access } = await c.login({ email, password });
    return { id: made.body.member.user_id, token: access, as: c.authed(access) };
  }

  it('returns the key once, lists it by prefix and lets it act with its role', async () => {
    const o = await owner();
    const made = await createKey(o, { name: 'ci', role: 'member' });
    assert.match(made.key, /^kiln_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    assert.equal(made.api_key.prefix, made.key.slice(5, 17));
    assert.equal(made.api_key.role, 'member');
    assert.equal(made.api_key.created_by, o.user.id);
    assert.equal(made.api_key.expires_at, null);
    assert.equal(made.api_key.last_used_at, null);

    const list = await o.as.get(`/workspaces/${o.ws}/api-keys`);
    assert.equal(list.status, 200);
    assert.equal(list.body.next_cursor, null);
    assert.deepEqual(list.body.items.map((k) => k.id), [made.api_key.id]);
    assert.ok(!list.text.includes(made.key.slice(18)), 'the secret is never listed');

    const key = c.authed(made.key);
    const ws = await key.get(`/workspaces/${o.ws}`);
    assert.equal(ws.status, 200, ws.text);
    assert.equal(ws.body.id, o.ws);
    assertProblem(await key.patch(`/workspaces/${o.ws}`, { name: 'renamed by a member key' }), 403);
    const listed = await o.as.get(`/workspaces/${o.ws}/api-keys`);
    assert.ok(listed.body.items[0].last_used_at, 'the key records its use');
  });

  it('acts only within its workspace and never on the account', async () => {
    const o = await owner();
    const other = await owner();
    const made = await createKey(o, { name: 'scoped', role: 'admin' });
    const key = c.authed(made.key);
    assertProblem(await key.get(`/workspaces/${other.ws}`), 404);
    assertProblem(await key.get(`/workspaces/${other.ws}/members`), 404);
    for (const res of [await key.me(), await key.get('/workspaces'), await key.post('/auth/logout-all', {}),
      await key.get('/auth/sessions')]) {
      assertProblem(res, 403);
    }
    assertProblem(await key.get('/admin/workspaces'), 403);
  });

  it('stops working at once when revoked, and is then gone from the list', async () => {
    const o = await owner();
    const made = await createKey(o, { name: 'short-lived', role: 'viewer' });
    const key = c.authed(made.key);
    assert.equal((await key.get(`/workspaces/${o.ws}/members`)).status, 200);
    assert.equal((await o.as.delete(`/workspaces/${o.ws}/api-keys/${made.api_key.id}`)).status, 204);
    assertUnauthorized(await key.get(`/workspaces/${o.ws}/members`));
    assertProblem(await o.as.delete(`/workspaces/${o.ws}/api-keys/${made.api_key.id}`), 404);
    assert.deepEqual((await o.as.get(`/workspaces/${o.ws}/api-keys`)).body.items, []);
    const events = await o.as.get('/audit-events?action=api_key.revoke');
    assert.equal(events.body.items.length, 1, 'one revocation audited, not the refused second one');
    assert.equal(events.body.items[0].target_id, made.api_key.id);
  });

  it('refuses malformed, unknown and tampered keys with 401', async () => {
    const o = await owner();
    const made = await createKey(o, { name: 'real', role: 'viewer' });
    const tampered = made.key.slice(0, -1) + (made.key.endsWith('A') ? 'B' : 'A');
    for (const bad of ['kiln_', 'kiln_short', tampered, `kiln_${'z'.repeat(12)}_${made.key.slice(18)}`]) {
      assertUnauthorized(await c.authed(bad).get(`/workspaces/${o.ws}`));
    }
  });

  it('expires at the given time and refuses an expiry in the past', async () => {
    const o = await owner();
    assertInvalid(await o.as.post(`/workspaces/${o.ws}/api-keys`,
      { name: 'past', role: 'viewer', expires_at: '2001-01-01T00:00:00Z' }), ['expires_at']);
    assertInvalid(await o.as.post(`/workspaces/${o.ws}/api-keys`,
      { name: 'words', role: 'viewer', expires_at: 'tomorrow' }), ['expires_at']);
    assertInvalid(await o.as.post(`/workspaces/${o.ws}/api-keys`, { name: '', role: 'owner' }), ['name', 'role']);
    const soon = new Date(Date.now() + 1500).toISOString();
    const made = await createKey(o, { name: 'soon', role: 'viewer', expires_at: soon });
    assert.equal(Date.parse(made.api_key.expires_at), Date.parse(soon));
    const key = c.authed(made.key);
    assert.equal((await key.get(`/workspaces/${o.ws}`)).status, 200);
    await eventually(async () => (await key.get(`/workspaces/${o.ws}`)).status !== 200,
      { what: 'the key to expire' });
    assertUnauthorized(await key.get(`/workspaces/${o.ws}`));
  });

  it('is managed by admins only, and acts with no more than its creator’s current role', async () => {
    const o = await owner();
    const viewer = await member(o, 'viewer');
    assertProblem(await viewer.as.post(`/workspaces/${o.ws}/api-keys`, { name: 'nope', role: 'viewer' }), 403);
    assertProblem(await viewer.as.get(`/workspaces/${o.ws}/api-keys`), 403);

    const admin = await member(o, 'admin');
    const made = await createKey({ ...o, as: admin.as }, { name: 'admin key', role: 'admin' });
    const key = c.authed(made.key);
    assert.equal((await key.patch(`/workspaces/${o.ws}`, { name: 'renamed by key' })).status, 200);
    // The creator is demoted: the key is too.
    assert.equal((await o.as.patch(`/workspaces/${o.ws}/members/${admin.id}`, { role: 'member' })).status, 200);
    assertProblem(await key.patch(`/workspaces/${o.ws}`, { name: 'again' }), 403);
    assert.equal((await key.get(`/workspaces/${o.ws}`)).status, 200);
    // The creator leaves: the key dies.
    assert.equal((await o.as.delete(`/workspaces/${o.ws}/members/${admin.id}`)).status, 204);
    assertUnauthorized(await key.get(`/workspaces/${o.ws}`));
  });

  it('shows the plan with its usage and refuses members past it with 402 naming the limit', async () => {
    const o = await owner();
    const plan = await o.as.get(`/workspaces/${o.ws}/plan`);
    assert.equal(plan.status, 200, plan.text);
    assert.equal(plan.body.plan.id, 'free');
    assert.equal(plan.body.usage.members, 1);
    const max = plan.body.plan.max_members;
    assert.ok(Number.isInteger(max) && max > 1 && max < 50, `a small free plan: ${max}`);
    for (let i = 1; i < max; ++i) {
      const res = await o.as.post(`/workspaces/${o.ws}/users`, { email: uniqueEmail(), name: `M${i}`, role: 'viewer' });
      assert.equal(res.status, 201, res.text);
    }
    const refused = await o.as.post(`/workspaces/${o.ws}/users`, { email: uniqueEmail(), name: 'One too many', role: 'viewer' });
    const problem = assertProblem(refused, 402);
    assert.equal(problem.limit, 'members');
    assert.equal((await o.as.get(`/workspaces/${o.ws}/plan`)).body.usage.members, max);
    assert.equal((await o.as.get(`/workspaces/${o.ws}/members`)).body.items.length, max, 'nothing half-written');
  });

  it('refuses API keys past the plan with 402 naming the limit; revoking frees a slot', async () => {
    const o = await owner();
    const { body: { plan } } = await o.as.get(`/workspaces/${o.ws}/plan`);
    const made = [];
    for (let i = 0; i < plan.max_api_keys; ++i) made.push(await createKey(o, { name: `k${i}`, role: 'viewer' }));
    const problem = assertProblem(await o.as.post(`/workspaces/${o.ws}/api-keys`, { name: 'extra', role: 'viewer' }), 402);
    assert.equal(problem.limit, 'api_keys');
    assert.equal((await o.as.delete(`/workspaces/${o.ws}/api-keys/${made[0].api_key.id}`)).status, 204);
    await createKey(o, { name: 'replacement', role: 'viewer' });
  });

  it('never writes a key to the log', () => {
    assert.ok(issued.length > 5);
    const log = kiln.output();
    for (const key of issued) assert.ok(!log.includes(key.slice(18)), 'a key secret in the log');
  });
});
