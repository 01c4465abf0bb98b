// Workspaces over HTTP: listing, creating, reading, renaming and deleting workspaces, switching
// a session between them, the member list and what one owner alone can do to memberships, that
// roles and membership are checked live, and that another tenant's workspace is invisible (404,
// never 403).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  apiClient, assertInvalid, assertProblem, assertTimestamp, assertUnauthorized, hex, launchForManyAccounts, uniqueUsername,
} from './lib/api.mjs';

const uniqueName = (prefix = 'Workspace') => `${prefix} ${hex(4)}`;
const ROLES = ['owner', 'admin', 'member', 'viewer'];

// A problem whose status is one of `statuses` (where the contract allows either).
function assertProblemOneOf(res, statuses, what) {
  assert.ok(statuses.includes(res.status), `${what}: expected one of ${statuses}, got ${res.status}: ${res.text}`);
  return assertProblem(res, res.status);
}

// A workspace object as the caller sees it; `expected` fields must match exactly.
function assertWorkspace(ws, expected = {}) {
  assert.ok(ws && typeof ws === 'object', `a workspace object: ${JSON.stringify(ws)}`);
  assert.equal(typeof ws.id, 'string');
  assert.ok(ws.id.length > 0, 'an id');
  assert.equal(typeof ws.name, 'string');
  assert.ok(ws.name.length > 0, 'a name');
  assert.equal(ws.plan, 'free');
  assert.equal(typeof ws.personal, 'boolean', 'personal is a boolean');
  assert.ok(ROLES.includes(ws.role), `role ${ws.role} is one of ${ROLES}`);
  assertTimestamp(ws.created_at, 'created_at');
  for (const [k, v] of Object.entries(expected)) assert.equal(ws[k], v, `${k} of ${JSON.stringify(ws)}`);
  return ws;
}

function assertMember(m, expected = {}) {
  assert.ok(m && typeof m === 'object', `a member object: ${JSON.stringify(m)}`);
  assert.equal(typeof m.user_id, 'string');
  assert.equal(typeof m.email, 'string');
  assert.equal(typeof m.name, 'string');
  assert.ok(m.username === null || typeof m.username === 'string', `username: ${m.username}`);
  assert.ok(ROLES.includes(m.role), `role ${m.role} is one of ${ROLES}`);
  assertTimestamp(m.joined_at, 'joined_at');
  const text = JSON.stringify(m);
  assert.doesNotMatch(text, /\$argon2/, 'no password hash in a member');
  assert.doesNotMatch(text, /password/, 'no password field in a member');
  for (const [k, v] of Object.entries(expected)) assert.equal(m[k], v, `${k} of ${text}`);
  return m;
}

// The shared client plus workspace calls, each asserting success and the answer's shape.
function client(kiln) {
  const c = apiClient(kiln);
  const { authed, register, login, tokenPair } = c;

  // A registered account signed in once: {…account, access, refresh, claims, api}.
  async function signedIn(overrides = {}) {
    const account = await register(overrides);
    const pair = await login(account);
    return { ...account, ...pair, api: authed(pair.access) };
  }

  async function createWorkspace(token, name = uniqueName()) {
    const res = await authed(token).post('/workspaces', { name });
    assert.equal(res.status, 201, `create workspace: ${res.text}`);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    return assertWorkspace(res.body, { name, role: 'owner', personal: false });
  }

  async function list(token) {
    const res = await authed(token).get('/workspaces');
    assert.equal(res.status, 200, `list workspaces: ${res.text}`);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.ok(Array.isArray(res.body?.items), `items is an array: ${res.text}`);
    assert.equal(res.body.next_cursor, null);
    for (const ws of res.body.items) assertWorkspace(ws);
    return res.body.items;
  }

  async function getWorkspace(token, id) {
    const res = await authed(token).get(`/workspaces/${id}`);
    assert.equal(res.status, 200, `get workspace ${id}: ${res.text}`);
    return assertWorkspace(res.body, { id });
  }

  async function members(token, id) {
    const res = await authed(token).get(`/workspaces/${id}/members`);
    assert.equal(res.status, 200, `members of ${id}: ${res.text}`);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.ok(Array.isArray(res.body?.items), `items is an array: ${res.text}`);
    assert.equal(res.body.next_cursor, null);
    for (const m of res.body.items) assertMember(m);
    return res.body.items;
  }

  const switchRaw = (token, workspaceId) => authed(token).post('/auth/switch-workspace', { workspace_id: workspaceId });

  async function switchTo(token, workspaceId) {
    return tokenPair(await switchRaw(token, workspaceId), `switch to ${workspaceId}`);
  }

  async function me(token) {
    const res = await authed(token).me();
    assert.equal(res.status, 200, `GET /auth/me: ${res.text}`);
    return res.body;
  }

  return { ...c, signedIn, createWorkspace, list, getWorkspace, members, switchRaw, switchTo, me };
}

describe('workspaces', { timeout: 120000 }, () => {
  let kiln;
  let c;
  before(async () => { kiln = await launchForManyAccounts(); c = client(kiln); });
  after(async () => { if (kiln) assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM'); });

  describe('list and create', () => {
    it('GET /workspaces lists exactly the personal workspace of a new user', async () => {
      const other = await c.signedIn(); // someone else's workspace must not show up
      const a = await c.signedIn();
      const items = await c.list(a.access);
      assert.equal(items.length, 1, `only the personal workspace: ${JSON.stringify(items)}`);
      assertWorkspace(items[0], {
        id: a.workspace.id, name: a.workspace.name, role: 'owner', personal: true, plan: 'free',
      });
      assert.ok(Math.abs(Date.parse(items[0].created_at) - Date.now()) < 5 * 60 * 1000,
        `created just now: ${items[0].created_at}`);
      assert.ok(!items.some((w) => w.id === other.workspace.id), 'another user\'s workspace is not listed');
    });

    it('POST /workspaces creates a workspace the caller owns (201), listed beside the personal one', async () => {
      const a = await c.signedIn();
      const other = await c.signedIn();
      const name = uniqueName('Team');
      const ws = await c.createWorkspace(a.access, name);
      assert.notEqual(ws.id, a.workspace.id, 'a new workspace');
      assert.ok(Math.abs(Date.parse(ws.created_at) - Date.now()) < 5 * 60 * 1000, `created just now: ${ws.created_at}`);

      const items = await c.list(a.access);
      assert.deepEqual(items.map((w) => w.id).sort(), [a.workspace.id, ws.id].sort(), 'both workspaces are listed');
      const listed = items.find((w) => w.id === ws.id);
      assertWorkspace(listed, { name, role: 'owner', personal: false, plan: 'free' });
      assert.equal(Date.parse(listed.created_at), Date.parse(ws.created_at), 'the same created_at');
      assertWorkspace(items.find((w) => w.id === a.workspace.id), { personal: true, role: 'owner' });

      const got = await c.getWorkspace(a.access, ws.id);
      assertWorkspace(got, { name, role: 'owner', personal: false, plan: 'free' });
      assert.equal(Date.parse(got.created_at), Date.parse(ws.created_at));
      assertWorkspace(await c.getWorkspace(a.access, a.workspace.id), { personal: true, role: 'owner' });

      // The same name twice makes two workspaces.
      const twin = await c.createWorkspace(a.access, name);
      assert.notEqual(twin.id, ws.id);
      assert.equal((await c.list(a.access)).length, 3);

      const theirs = await c.list(other.access);
      assert.deepEqual(theirs.map((w) => w.id), [other.workspace.id], 'another user sees none of them');
    });

    it('POST /workspaces refuses an empty or missing name (422 name) and unknown fields, creating nothing', async () => {
      const a = await c.signedIn();
      assertInvalid(await a.api.post('/workspaces', { name: '' }), ['name']);
      assertInvalid(await a.api.post('/workspaces', {}), ['name']);
      assertInvalid(await a.api.post('/workspaces', { name: uniqueName(), color: 'red' }), ['color']);
      const unknownOnly = assertInvalid(await a.api.post('/workspaces', { name: uniqueName(), owner_id: randomUUID() }));
      assert.ok(unknownOnly.errors.some((e) => e.field === 'owner_id'), `owner_id is named: ${JSON.stringify(unknownOnly)}`);
      const items = await c.list(a.access);
      assert.deepEqual(items.map((w) => w.id), [a.workspace.id], 'nothing was created');
    });

    it('GET /workspaces/{id} answers 404 for an unknown, malformed or someone else\'s workspace', async () => {
      const a = await c.signedIn();
      const b = await c.signedIn();
      const theirs = await c.createWorkspace(b.access);
      for (const id of [randomUUID(), 'not-a-uuid', '12345', b.workspace.id, theirs.id]) {
        assertProblem(await a.api.get(`/workspaces/${id}`), 404);
      }
      // And B still sees both of theirs.
      await c.getWorkspace(b.access, b.workspace.id);
      await c.getWorkspace(b.access, theirs.id);
    });
  });

  describe('update and delete', () => {
    it('PATCH /workspaces/{id} renames it for the owner (200), everywhere at once', async () => {
      const a = await c.signedIn();
      const ws = await c.createWorkspace(a.access);
      const renamed = uniqueName('Renamed');
      const res = await a.api.patch(`/workspaces/${ws.id}`, { name: renamed });
      assert.equal(res.status, 200, res.text);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assertWorkspace(res.body, { id: ws.id, name: renamed, role: 'owner', personal: false, plan: 'free' });
      assertWorkspace(await c.getWorkspace(a.access, ws.id), { name: renamed });
      assertWorkspace((await c.list(a.access)).find((w) => w.id === ws.id), { name: renamed });

      // The personal workspace can be renamed too, and /auth/me shows the new name.
      const personal = uniqueName('Personal');
      const p = await a.api.patch(`/workspaces/${a.workspace.id}`, { name: personal });
      assert.equal(p.status, 200, p.text);
      assertWorkspace(p.body, { id: a.workspace.id, name: personal, personal: true, role: 'owner' });
      const me = await c.me(a.access);
      assert.equal(me.workspace.id, a.workspace.id);
      assert.equal(me.workspace.name, personal);
    });

    it('PATCH /workspaces/{id} refuses an empty name (422 name) and changes nothing', async () => {
      const a = await c.signedIn();
      const ws = await c.createWorkspace(a.access);
      assertInvalid(await a.api.patch(`/workspaces/${ws.id}`, { name: '' }), ['name']);
      assertWorkspace(await c.getWorkspace(a.access, ws.id), { name: ws.name });
    });

    it('DELETE /workspaces/{id} removes it (204): gone from the list, 404 everywhere after', async () => {
      const a = await c.signedIn();
      const keep = await c.createWorkspace(a.access);
      const ws = await c.createWorkspace(a.access);
      const res = await a.api.delete(`/workspaces/${ws.id}`);
      assert.equal(res.status, 204, res.text);
      assert.equal(res.text, '');

      const items = await c.list(a.access);
      assert.deepEqual(items.map((w) => w.id).sort(), [a.workspace.id, keep.id].sort(), 'only the deleted one is gone');
      assertProblem(await a.api.get(`/workspaces/${ws.id}`), 404);
      assertProblem(await a.api.patch(`/workspaces/${ws.id}`, { name: uniqueName() }), 404);
      assertProblem(await a.api.delete(`/workspaces/${ws.id}`), 404);
      assertProblem(await a.api.get(`/workspaces/${ws.id}/members`), 404);
      assertProblem(await c.switchRaw(a.access, ws.id), 404);
      await c.getWorkspace(a.access, keep.id);
      assert.equal((await c.me(a.access)).workspace.id, a.workspace.id, 'the caller is unaffected');
    });

    it('DELETE of the personal workspace is 409 and leaves it in place', async () => {
      const a = await c.signedIn();
      assertProblem(await a.api.delete(`/workspaces/${a.workspace.id}`), 409);
      assertWorkspace(await c.getWorkspace(a.access, a.workspace.id), { personal: true, role: 'owner' });
      assert.deepEqual((await c.list(a.access)).map((w) => w.id), [a.workspace.id]);
      assert.equal((await c.me(a.access)).workspace.id, a.workspace.id);
    });

    it('PATCH and DELETE of an unknown workspace id are 404 (a malformed one 404 or 422)', async () => {
      const a = await c.signedIn();
      assertProblem(await a.api.patch(`/workspaces/${randomUUID()}`, { name: uniqueName() }), 404);
      assertProblem(await a.api.delete(`/workspaces/${randomUUID()}`), 404);
      assertProblemOneOf(await a.api.patch('/workspaces/not-a-uuid', { name: uniqueName() }), [404, 422], 'PATCH malformed id');
      assertProblemOneOf(await a.api.delete('/workspaces/not-a-uuid'), [404, 422], 'DELETE malformed id');
      assert.deepEqual((await c.list(a.access)).map((w) => w.id), [a.workspace.id], 'nothing changed');
    });
  });

  describe('switch-workspace', () => {
    it('issues a pair for the chosen workspace in the same session; /auth/me and refresh follow it', async () => {
      const a = await c.signedIn();
      const ws = await c.createWorkspace(a.access);
      const t = await c.switchTo(a.access, ws.id);
      assert.equal(t.claims.sub, a.user.id);
      assert.equal(t.claims.wid, ws.id, 'wid is the new workspace');
      assert.equal(t.claims.role, 'owner');
      assert.equal(t.claims.sid, a.claims.sid, 'the same session');

      const me = await c.me(t.access);
      assert.equal(me.id, a.user.id);
      assert.equal(me.workspace.id, ws.id);
      assert.equal(me.workspace.name, ws.name);
      assert.equal(me.workspace.role, 'owner');

      // The list and every workspace of the caller are visible whichever one is current.
      const items = await c.list(t.access);
      assert.deepEqual(items.map((w) => w.id).sort(), [a.workspace.id, ws.id].sort());
      assertWorkspace(await c.getWorkspace(t.access, a.workspace.id), { personal: true });

      // A later refresh stays in the switched workspace.
      const r = await c.refresh(t.refresh);
      assert.equal(r.claims.wid, ws.id, 'refresh keeps the switched workspace');
      assert.equal(r.claims.role, 'owner');
      assert.equal(r.claims.sid, a.claims.sid);
      assert.equal((await c.me(r.access)).workspace.id, ws.id);

      // And back again.
      const back = await c.switchTo(r.access, a.workspace.id);
      assert.equal(back.claims.wid, a.workspace.id);
      assert.equal(back.claims.role, 'owner');
      assert.equal(back.claims.sid, a.claims.sid);
      const meBack = await c.me(back.access);
      assert.equal(meBack.workspace.id, a.workspace.id);
      assert.equal(meBack.workspace.name, a.workspace.name);
      const again = await c.refresh(back.refresh);
      assert.equal(again.claims.wid, a.workspace.id);
    });

    it('answers 404 for a workspace the caller is not a member of, or that does not exist', async () => {
      const a = await c.signedIn();
      const b = await c.signedIn();
      const theirs = await c.createWorkspace(b.access);
      for (const id of [b.workspace.id, theirs.id, randomUUID()]) {
        assertProblem(await c.switchRaw(a.access, id), 404);
      }
      const malformed = await c.switchRaw(a.access, 'not-a-uuid');
      assertProblemOneOf(malformed, [404, 422], 'a malformed workspace_id');
      assertInvalid(await a.api.post('/auth/switch-workspace', {}), ['workspace_id']);
      // The caller's session is untouched and still in its own workspace.
      const me = await c.me(a.access);
      assert.equal(me.workspace.id, a.workspace.id);
      const r = await c.refresh(a.refresh);
      assert.equal(r.claims.wid, a.workspace.id, 'a refused switch changes nothing');
      // B's workspaces are untouched.
      await c.getWorkspace(b.access, theirs.id);
    });
  });

  describe('members', () => {
    it('GET /workspaces/{id}/members lists the sole owner of a new workspace', async () => {
      const username = uniqueUsername();
      const a = await c.signedIn({ username });
      await c.signedIn(); // another user, who must not be listed
      const ws = await c.createWorkspace(a.access);
      for (const id of [a.workspace.id, ws.id]) {
        const items = await c.members(a.access, id);
        assert.equal(items.length, 1, `one member: ${JSON.stringify(items)}`);
        assertMember(items[0], {
          user_id: a.user.id, email: a.email, name: a.name, username, role: 'owner',
        });
        assert.ok(Math.abs(Date.parse(items[0].joined_at) - Date.now()) < 5 * 60 * 1000,
          `joined just now: ${items[0].joined_at}`);
      }
    });

    it('the sole owner can neither demote themselves nor leave (409); an invalid role is 422 role', async () => {
      const a = await c.signedIn();
      const ws = await c.createWorkspace(a.access);
      for (const id of [ws.id, a.workspace.id]) {
        const self = `/workspaces/${id}/members/${a.user.id}`;
        for (const role of ['admin', 'member', 'viewer']) {
          assertProblem(await a.api.patch(self, { role }), 409);
        }
        for (const role of ['superuser', '', 'OWNER', 42, null]) {
          assertInvalid(await a.api.patch(self, { role }), ['role']);
        }
        assertInvalid(await a.api.patch(self, {}), ['role']);
        assertProblem(await a.api.delete(self), 409);

        const items = await c.members(a.access, id);
        assert.equal(items.length, 1);
        assertMember(items[0], { user_id: a.user.id, role: 'owner' });
        assertWorkspace(await c.getWorkspace(a.access, id), { role: 'owner' });
      }
      assert.equal((await c.me(a.access)).workspace.role, 'owner');
    });

    it('PATCH and DELETE of a user who is not a member are 404, and touch nobody', async () => {
      const a = await c.signedIn();
      const b = await c.signedIn();
      const ws = await c.createWorkspace(a.access);
      for (const userId of [b.user.id, randomUUID()]) {
        assertProblem(await a.api.patch(`/workspaces/${ws.id}/members/${userId}`, { role: 'member' }), 404);
        assertProblem(await a.api.delete(`/workspaces/${ws.id}/members/${userId}`), 404);
      }
      // B did not join A's workspace, and B's own membership is intact.
      assert.deepEqual((await c.members(a.access, ws.id)).map((m) => m.user_id), [a.user.id]);
      assertProblem(await b.api.get(`/workspaces/${ws.id}`), 404);
      assertWorkspace(await c.getWorkspace(b.access, b.workspace.id), { role: 'owner' });
      assert.deepEqual((await c.members(b.access, b.workspace.id)).map((m) => [m.user_id, m.role]), [[b.user.id, 'owner']]);
    });

    it('a non-member gets 404 on the member routes, and changes nothing', async () => {
      const a = await c.signedIn();
      const b = await c.signedIn();
      const ws = await c.createWorkspace(a.access);
      for (const id of [ws.id, a.workspace.id]) {
        assertProblem(await b.api.get(`/workspaces/${id}/members`), 404);
        assertProblem(await b.api.patch(`/workspaces/${id}/members/${a.user.id}`, { role: 'viewer' }), 404);
        assertProblem(await b.api.delete(`/workspaces/${id}/members/${a.user.id}`), 404);
        // Nor can B use these routes to put themselves in.
        assertProblem(await b.api.patch(`/workspaces/${id}/members/${b.user.id}`, { role: 'owner' }), 404);
        const items = await c.members(a.access, id);
        assert.deepEqual(items.map((m) => [m.user_id, m.role]), [[a.user.id, 'owner']]);
      }
      assertProblem(await b.api.get(`/workspaces/${randomUUID()}/members`), 404);
    });
  });

  describe('live checks', () => {
    it('once a workspace is deleted, a token switched into it is refused; other tokens go on', async () => {
      const a = await c.signedIn();
      const other = await c.login(a); // a second session, staying in the personal workspace
      const ws = await c.createWorkspace(a.access);
      const t = await c.switchTo(a.access, ws.id);
      const inside = c.authed(t.access);
      // It works before the deletion.
      await c.getWorkspace(t.access, ws.id);
      assert.equal((await c.members(t.access, ws.id)).length, 1);
      assert.equal((await c.me(t.access)).workspace.id, ws.id);

      const del = await c.authed(other.access).delete(`/workspaces/${ws.id}`);
      assert.equal(del.status, 204, del.text);

      assertProblemOneOf(await inside.get(`/workspaces/${ws.id}`), [401, 404], 'GET the deleted workspace');
      assertProblemOneOf(await inside.get(`/workspaces/${ws.id}/members`), [401, 404], 'GET its members');
      assertProblemOneOf(await inside.me(), [401, 404], 'GET /auth/me in the deleted workspace');

      const me = await c.me(other.access);
      assert.equal(me.id, a.user.id);
      assert.equal(me.workspace.id, a.workspace.id, 'the other token is still in the personal workspace');
      const items = await c.list(other.access);
      assert.deepEqual(items.map((w) => w.id), [a.workspace.id]);
    });

    it('the owner can delete the workspace their token is in; that token is then refused', async () => {
      const a = await c.signedIn();
      const other = await c.login(a);
      const ws = await c.createWorkspace(a.access);
      const t = await c.switchTo(a.access, ws.id);
      const del = await c.authed(t.access).delete(`/workspaces/${ws.id}`);
      assert.equal(del.status, 204, del.text);
      assertProblemOneOf(await c.authed(t.access).me(), [401, 404], 'GET /auth/me in the deleted workspace');
      assertProblemOneOf(await c.authed(t.access).get(`/workspaces/${ws.id}`), [401, 404], 'GET the deleted workspace');
      assert.equal((await c.me(other.access)).workspace.id, a.workspace.id);
      assertProblem(await c.authed(other.access).get(`/workspaces/${ws.id}`), 404);
    });
  });

  describe('cross-tenant', () => {
    it('another user gets 404 (never 403) on every route of a workspace, which survives intact', async () => {
      const a = await c.signedIn();
      const b = await c.signedIn();
      const ws = await c.createWorkspace(a.access);
      for (const id of [ws.id, a.workspace.id]) {
        const name = (await c.getWorkspace(a.access, id)).name;
        assertProblem(await b.api.get(`/workspaces/${id}`), 404);
        assertProblem(await b.api.patch(`/workspaces/${id}`, { name: uniqueName('Hijacked') }), 404);
        assertProblem(await b.api.delete(`/workspaces/${id}`), 404);
        assertProblem(await b.api.get(`/workspaces/${id}/members`), 404);
        assertProblem(await c.switchRaw(b.access, id), 404);

        assertWorkspace(await c.getWorkspace(a.access, id), { name, role: 'owner' });
        assert.deepEqual((await c.members(a.access, id)).map((m) => m.user_id), [a.user.id]);
      }
      assert.deepEqual((await c.list(a.access)).map((w) => w.id).sort(), [a.workspace.id, ws.id].sort());
      assert.deepEqual((await c.list(b.access)).map((w) => w.id), [b.workspace.id], 'B gained nothing');
      assert.equal((await c.me(b.access)).workspace.id, b.workspace.id, 'B is still in their own workspace');
    });
  });

  it('every route wants a bearer token (401 with WWW-Authenticate: Bearer)', async () => {
    const a = await c.signedIn();
    const ws = await c.createWorkspace(a.access);
    const routes = [
      ['GET', '/workspaces'],
      ['POST', '/workspaces', { name: uniqueName() }],
      ['GET', `/workspaces/${ws.id}`],
      ['PATCH', `/workspaces/${ws.id}`, { name: uniqueName() }],
      ['DELETE', `/workspaces/${ws.id}`],
      ['GET', `/workspaces/${ws.id}/members`],
      ['PATCH', `/workspaces/${ws.id}/members/${a.user.id}`, { role: 'viewer' }],
      ['DELETE', `/workspaces/${ws.id}/members/${a.user.id}`],
      ['POST', '/auth/switch-workspace', { workspace_id: ws.id }],
    ];
    for (const [method, path, body] of routes) {
      assertUnauthorized(await c.call(method, path, { body }));
      assertUnauthorized(await c.call(method, path, { body, token: 'garbage' }));
      assertUnauthorized(await c.call(method, path, { body, token: a.refresh }));
    }
    // Nothing happened.
    assertWorkspace(await c.getWorkspace(a.access, ws.id), { name: ws.name, role: 'owner' });
    assert.deepEqual((await c.list(a.access)).map((w) => w.id).sort(), [a.workspace.id, ws.id].sort());
    assert.deepEqual((await c.members(a.access, ws.id)).map((m) => [m.user_id, m.role]), [[a.user.id, 'owner']]);
  });

  it('/openapi.json documents the workspace routes', async () => {
    const res = await fetch(`${kiln.url}/openapi.json`);
    assert.equal(res.status, 200);
    const doc = await res.json();
    const expected = [
      ['/api/v1/workspaces', ['get', 'post']],
      ['/api/v1/workspaces/{id}', ['get', 'patch', 'delete']],
      ['/api/v1/workspaces/{id}/members', ['get']],
      ['/api/v1/workspaces/{id}/members/{user_id}', ['patch', 'delete']],
      ['/api/v1/auth/switch-workspace', ['post']],
    ];
    for (const [p, methods] of expected) {
      assert.ok(doc.paths?.[p], `${p} is documented (paths: ${Object.keys(doc.paths ?? {}).join(', ')})`);
      for (const m of methods) assert.ok(doc.paths[p][m], `${m.toUpperCase()} ${p} is documented`);
    }
  });
});
