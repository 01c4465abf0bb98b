// Admin-managed accounts (POST /workspaces/{id}/users) and, with a second member at last, the
// role matrix over HTTP: what a viewer may not do, and that role changes hold at once.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { launchKiln } from './lib/kiln.mjs';

describe('admin-managed users and live roles', { timeout: 90000 }, () => {
  let kiln;
  before(async () => { kiln = await launchKiln({ env: { KILN_AUTH_REGISTRATIONS_PER_IP_HOUR: '100000' } }); });
  after(async () => { if (kiln) assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM'); });

  const api = async (method, path, { token, body } = {}) => {
    const headers = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(`${kiln.url}/api/v1${path}`,
      { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const login = async (email, password) => {
    const res = await api('POST', '/auth/login', { body: { email, password } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.access_token;
  };
  async function owner() {
    const email = `${randomUUID()}@example.com`;
    const password = `correct horse ${randomUUID()}`;
    const reg = await api('POST', '/auth/register', { body: { email, password, name: 'Owner' } });
    assert.equal(reg.status, 201);
    return { token: await login(email, password), workspace: reg.body.workspace.id };
  }
  // A managed account in `workspace` with `role`, signed in with its password changed.
  async function member(o, role) {
    const email = `${randomUUID()}@example.com`;
    const made = await api('POST', `/workspaces/${o.workspace}/users`,
      { token: o.token, body: { email, name: 'Member', role } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const token = await login(email, made.body.temporary_password);
    const password = `new passphrase ${randomUUID()}`;
    const changed = await api('POST', '/auth/change-password',
      { token, body: { current_password: made.body.temporary_password, new_password: password } });
    assert.equal(changed.status, 204);
    return { token, id: made.body.member.user_id };
  }

  it('creates an account that must change its temporary password before using the workspace', async () => {
    const o = await owner();
    const email = `${randomUUID()}@example.com`;
    const made = await api('POST', `/workspaces/${o.workspace}/users`,
      { token: o.token, body: { email: email.toUpperCase(), name: 'Vera', role: 'viewer' } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.member.role, 'viewer');
    assert.equal(made.body.member.email, email);
    assert.ok(made.body.temporary_password.length >= 20);

    const token = await login(email, made.body.temporary_password);
    const me = await api('GET', '/auth/me', { token });
    assert.equal(me.body.must_change_password, true);
    assert.equal(me.body.workspace.id, o.workspace);
    assert.equal((await api('GET', `/workspaces/${o.workspace}`, { token })).status, 403);
    assert.equal((await api('GET', `/workspaces/${o.workspace}/members`, { token })).status, 403);

    const changed = await api('POST', '/auth/change-password', {
      token, body: { current_password: made.body.temporary_password, new_password: `vera's own ${randomUUID()}` },
    });
    assert.equal(changed.status, 204);
    assert.equal((await api('GET', '/auth/me', { token })).body.must_change_password, false);
    const ws = await api('GET', `/workspaces/${o.workspace}`, { token });
    assert.equal(ws.status, 200);
    assert.equal(ws.body.role, 'viewer');
    const members = await api('GET', `/workspaces/${o.workspace}/members`, { token });
    assert.equal(members.body.items.length, 2);
  });

  it('a given temporary password is used (and checked by the policy), never echoed', async () => {
    const o = await owner();
    const email = `${randomUUID()}@example.com`;
    const weak = await api('POST', `/workspaces/${o.workspace}/users`,
      { token: o.token, body: { email, name: 'Weak', role: 'member', temporary_password: 'password123' } });
    assert.equal(weak.status, 422);
    assert.deepEqual(weak.body.errors.map((e) => e.field), ['temporary_password']);
    const given = `handed over ${randomUUID()}`;
    const made = await api('POST', `/workspaces/${o.workspace}/users`,
      { token: o.token, body: { email, name: 'Given', role: 'member', temporary_password: given } });
    assert.equal(made.status, 201);
    assert.equal(made.body.temporary_password, null);
    await login(email, given);
    const dup = await api('POST', `/workspaces/${o.workspace}/users`,
      { token: o.token, body: { email, name: 'Again', role: 'member' } });
    assert.equal(dup.status, 409);
  });

  it('a viewer reads but cannot mutate; a member cannot manage accounts', async () => {
    const o = await owner();
    const viewer = await member(o, 'viewer');
    const m = await member(o, 'member');
    assert.equal((await api('GET', `/workspaces/${o.workspace}`, { token: viewer.token })).status, 200);
    assert.equal((await api('PATCH', `/workspaces/${o.workspace}`,
      { token: viewer.token, body: { name: 'Nope' } })).status, 403);
    assert.equal((await api('DELETE', `/workspaces/${o.workspace}`, { token: viewer.token })).status, 403);
    assert.equal((await api('PATCH', `/workspaces/${o.workspace}/members/${m.id}`,
      { token: viewer.token, body: { role: 'viewer' } })).status, 403);
    assert.equal((await api('POST', `/workspaces/${o.workspace}/users`,
      { token: m.token, body: { email: `${randomUUID()}@example.com`, name: 'X', role: 'viewer' } })).status, 403);
    assert.equal((await api('GET', '/audit-events', { token: m.token })).status, 403);
    assert.equal((await api('GET', `/workspaces/${o.workspace}`, { token: o.token })).body.name !== 'Nope', true);
  });

  it('an admin manages non-owners but cannot make an owner', async () => {
    const o = await owner();
    const admin = await member(o, 'admin');
    const made = await api('POST', `/workspaces/${o.workspace}/users`,
      { token: admin.token, body: { email: `${randomUUID()}@example.com`, name: 'By admin', role: 'member' } });
    assert.equal(made.status, 201);
    const owner2 = await api('POST', `/workspaces/${o.workspace}/users`,
      { token: admin.token, body: { email: `${randomUUID()}@example.com`, name: 'Boss', role: 'owner' } });
    assert.equal(owner2.status, 403);
    assert.equal((await api('PATCH', `/workspaces/${o.workspace}`,
      { token: admin.token, body: { name: 'Renamed by admin' } })).status, 200);
  });

  it('promotion, demotion and removal hold from the next request, with the same token', async () => {
    const o = await owner();
    const v = await member(o, 'viewer');
    const rename = () => api('PATCH', `/workspaces/${o.workspace}`, { token: v.token, body: { name: `R ${randomUUID()}` } });
    assert.equal((await rename()).status, 403);
    assert.equal((await api('PATCH', `/workspaces/${o.workspace}/members/${v.id}`,
      { token: o.token, body: { role: 'admin' } })).status, 200);
    assert.equal((await rename()).status, 200, 'promoted: at once');
    assert.equal((await api('PATCH', `/workspaces/${o.workspace}/members/${v.id}`,
      { token: o.token, body: { role: 'viewer' } })).status, 200);
    assert.equal((await rename()).status, 403, 'demoted: at once');
    assert.equal((await api('DELETE', `/workspaces/${o.workspace}/members/${v.id}`, { token: o.token })).status, 204);
    assert.equal((await api('GET', `/workspaces/${o.workspace}`, { token: v.token })).status, 404, 'removed: at once');
  });

  it('admins update and deactivate managed accounts; deactivation ends sign-in and every session', async () => {
    const o = await owner();
    const email = `${randomUUID()}@example.com`;
    const given = `handed over ${randomUUID()}`;
    const made = await api('POST', `/workspaces/${o.workspace}/users`,
      { token: o.token, body: { email, name: 'Dee', role: 'member', temporary_password: given } });
    assert.equal(made.status, 201);
    const id = made.body.member.user_id;
    const token = await login(email, given);

    const updated = await api('PATCH', `/workspaces/${o.workspace}/users/${id}`,
      { token: o.token, body: { name: 'Dee Renamed' } });
    assert.equal(updated.status, 200);
    assert.equal(updated.body.name, 'Dee Renamed');
    // Only admins: the member cannot deactivate someone (nor themselves) this way.
    assert.equal((await api('POST', `/workspaces/${o.workspace}/users/${id}/deactivate`, { token })).status, 403);

    assert.equal((await api('POST', `/workspaces/${o.workspace}/users/${id}/deactivate`, { token: o.token })).status,
      204);
    assert.equal((await api('GET', '/auth/me', { token })).status, 401, 'its session ended at once');
    const again = await api('POST', '/auth/login', { body: { email, password: given } });
    assert.equal(again.status, 401, 'a deactivated account cannot sign in');
  });

  it('only accounts this workspace manages can be updated or deactivated here', async () => {
    const o = await owner();
    const other = await owner();
    const self = (await api('GET', '/auth/me', { token: other.token })).body.id;
    for (const target of [self, randomUUID()]) {
      assert.equal((await api('PATCH', `/workspaces/${o.workspace}/users/${target}`,
        { token: o.token, body: { name: 'Hijack' } })).status, 404);
      assert.equal((await api('POST', `/workspaces/${o.workspace}/users/${target}/deactivate`,
        { token: o.token })).status, 404);
    }
    assert.equal((await api('GET', '/auth/me', { token: other.token })).status, 200, 'the other account is untouched');
  });

  it('another workspace cannot create accounts here', async () => {
    const o = await owner();
    const other = await owner();
    const res = await api('POST', `/workspaces/${o.workspace}/users`,
      { token: other.token, body: { email: `${randomUUID()}@example.com`, name: 'Sneak', role: 'owner' } });
    assert.equal(res.status, 404);
  });
});
