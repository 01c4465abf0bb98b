// Workspace invitations over HTTP: admins invite by email with a role, the mailed link is
// accepted by a signed-in account with that email or by registering with it, once; pending
// invitations are listed and revoked; roles below admin cannot invite, only owners invite
// owners; another workspace's ids are 404; expiry. No token reaches the log.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  apiClient, assertInvalid, assertProblem, assertTimestamp, strongPassword, uniqueEmail,
} from './lib/api.mjs';
import { eventually, launchKiln } from './lib/kiln.mjs';
import { tokenOf, waitForMail } from './lib/mail.mjs';

const INVITE = /You are invited/;
const tokens = new Set();

describe('invitations', { timeout: 120000 }, () => {
  let kiln;
  let api;
  before(async () => {
    kiln = await launchKiln({ env: { KILN_AUTH_REGISTRATIONS_PER_IP_HOUR: '100000' } });
    api = apiClient(kiln);
  });
  after(async () => {
    if (!kiln) return;
    const output = kiln.output();
    assert.ok(tokens.size > 0);
    for (const t of tokens) assert.ok(!output.includes(t), 'an invitation token reached the log');
    assert.equal(await kiln.close(), 0);
  });

  // A registered, signed-in account: {email, password, user, workspace, token, as}.
  async function account(overrides = {}) {
    const a = await api.register(overrides);
    const { access } = await api.login(a);
    return { ...a, token: access, as: api.authed(access) };
  }
  // Invites `email` with `role` into `owner`'s personal workspace; returns the invitation and its mailed token.
  async function invite(owner, email, role, n = 1) {
    const res = await owner.as.post(`/workspaces/${owner.workspace.id}/invitations`, { email, role });
    assert.equal(res.status, 201, res.text);
    const mail = await waitForMail(kiln, email.toLowerCase(), INVITE, n);
    const token = tokenOf(mail);
    tokens.add(token);
    return { invitation: res.body, token, mail };
  }
  // A member of `owner`'s workspace with `role`, joined by registering through an invitation.
  async function member(owner, role) {
    const email = uniqueEmail();
    const { token } = await invite(owner, email, role);
    const password = strongPassword();
    const reg = await api.registerRaw({ email, password, name: 'Invited', invitation_token: token });
    assert.equal(reg.status, 201, reg.text);
    const { access } = await api.login({ email, password });
    return { email, id: reg.body.user.id, as: api.authed(access) };
  }

  it('an admin invites; the signed-in invitee accepts once and becomes a member with the role', async () => {
    const owner = await account();
    const invitee = await account();
    const { invitation, mail, token } = await invite(owner, invitee.email.toUpperCase(), 'member');
    assert.equal(invitation.email, invitee.email);
    assert.equal(invitation.role, 'member');
    assert.equal(invitation.invited_by, owner.user.id);
    assertTimestamp(invitation.expires_at, 'expires_at');
    assert.ok(!JSON.stringify(invitation).includes(token), 'the token is only in the mail');
    assert.match(mail.headers.subject, new RegExp(owner.workspace.name.replace(/'/g, '.')));
    assert.match(mail.body, /\/accept-invitation\?token=/);
    assert.match(mail.body, /7 days/);

    const pending = await owner.as.get(`/workspaces/${owner.workspace.id}/invitations`);
    assert.equal(pending.status, 200);
    assert.deepEqual(pending.body.items.map((i) => i.id), [invitation.id]);
    assert.equal(pending.body.next_cursor, null);

    const accepted = await invitee.as.post('/invitations/accept', { token });
    assert.equal(accepted.status, 200, accepted.text);
    assert.deepEqual(accepted.body, { workspace_id: owner.workspace.id, workspace_name: owner.workspace.name, role: 'member' });
    const members = await owner.as.get(`/workspaces/${owner.workspace.id}/members`);
    assert.equal(members.body.items.find((m) => m.user_id === invitee.user.id)?.role, 'member');
    const ws = await invitee.as.get(`/workspaces/${owner.workspace.id}`);
    assert.equal(ws.status, 200);
    assert.equal(ws.body.role, 'member');

    assertProblem(await invitee.as.post('/invitations/accept', { token }), 410);
    const after = await owner.as.get(`/workspaces/${owner.workspace.id}/invitations`);
    assert.deepEqual(after.body.items, []);
    const audit = await owner.as.get('/audit-events?action=invitation.accept');
    assert.equal(audit.body.items.length, 1);
    assert.equal(audit.body.items[0].actor_user_id, invitee.user.id);
    assert.equal((await owner.as.get('/audit-events?action=invitation.create')).body.items.length, 1);
  });

  it('accepting by registering joins the workspace, proves the address and spends the invitation', async () => {
    const owner = await account();
    const email = uniqueEmail();
    const { token } = await invite(owner, email, 'viewer');
    const password = strongPassword();
    const reg = await api.registerRaw({ email, password, name: 'New', invitation_token: token });
    assert.equal(reg.status, 201, reg.text);
    assert.deepEqual(reg.body.joined, { id: owner.workspace.id, name: owner.workspace.name, role: 'viewer' });
    assert.equal(reg.body.user.email_verified, true);
    const { access } = await api.login({ email, password });
    const me = await api.authed(access).me();
    assert.equal(me.body.email_verified, true);
    const ws = await api.authed(access).get(`/workspaces/${owner.workspace.id}`);
    assert.equal(ws.body.role, 'viewer');
    // Spent: a second registration with it fails as a whole (no account is made).
    const other = uniqueEmail();
    const again = await api.registerRaw({ email: other, password: strongPassword(), name: 'X', invitation_token: token });
    assertProblem(again, 410);
    assert.equal((await api.loginRaw({ email: other, password: 'whatever it was' })).status, 401);
  });

  it('the invitation belongs to its address: another account or registration gets 403', async () => {
    const owner = await account();
    const { token } = await invite(owner, uniqueEmail(), 'member');
    const stranger = await account();
    assertProblem(await stranger.as.post('/invitations/accept', { token }), 403);
    const reg = await api.registerRaw({ email: uniqueEmail(), password: strongPassword(), name: 'Y', invitation_token: token });
    assertProblem(reg, 403);
    assertInvalid(await stranger.as.post('/invitations/accept', { token: 'not a token' }), ['token']);
    assertProblem(await stranger.as.post('/invitations/accept', { token: randomBytes(32).toString('base64url') }), 400);
  });

  it('a revoked invitation cannot be accepted; revoking twice is 404', async () => {
    const owner = await account();
    const invitee = await account();
    const { invitation, token } = await invite(owner, invitee.email, 'admin');
    const path = `/workspaces/${owner.workspace.id}/invitations/${invitation.id}`;
    assert.equal((await owner.as.delete(path)).status, 204);
    assertProblem(await invitee.as.post('/invitations/accept', { token }), 410);
    assertProblem(await owner.as.delete(path), 404);
    assert.deepEqual((await owner.as.get(`/workspaces/${owner.workspace.id}/invitations`)).body.items, []);
    assert.equal((await owner.as.get('/audit-events?action=invitation.revoke')).body.items.length, 1);
  });

  it('members and viewers cannot invite; admins invite all but owners; owners invite owners', async () => {
    const owner = await account();
    const viewer = await member(owner, 'viewer');
    const plain = await member(owner, 'member');
    const admin = await member(owner, 'admin');
    const ws = owner.workspace.id;
    for (const who of [viewer, plain]) {
      assertProblem(await who.as.post(`/workspaces/${ws}/invitations`, { email: uniqueEmail(), role: 'viewer' }), 403);
      assertProblem(await who.as.get(`/workspaces/${ws}/invitations`), 403);
    }
    assert.equal((await admin.as.post(`/workspaces/${ws}/invitations`, { email: uniqueEmail(), role: 'admin' })).status, 201);
    assertProblem(await admin.as.post(`/workspaces/${ws}/invitations`, { email: uniqueEmail(), role: 'owner' }), 403);
    assert.equal((await owner.as.post(`/workspaces/${ws}/invitations`, { email: uniqueEmail(), role: 'owner' })).status, 201);
    // An address that is a member already: 409.
    assertProblem(await owner.as.post(`/workspaces/${ws}/invitations`, { email: plain.email, role: 'admin' }), 409);
    assertInvalid(await owner.as.post(`/workspaces/${ws}/invitations`, { email: 'nope', role: 'boss' }), ['email', 'role']);
    // Pages: newest first, keyset cursor.
    const page1 = await owner.as.get(`/workspaces/${ws}/invitations?limit=1`);
    assert.equal(page1.body.items.length, 1);
    assert.equal(typeof page1.body.next_cursor, 'string');
    const page2 = await owner.as.get(`/workspaces/${ws}/invitations?limit=1&cursor=${page1.body.next_cursor}`);
    assert.equal(page2.body.items.length, 1);
    assert.ok(page2.body.items[0].id < page1.body.items[0].id);
    assertInvalid(await owner.as.get(`/workspaces/${ws}/invitations?limit=0`), ['limit']);
  });

  it("another workspace's ids are 404", async () => {
    const a = await account();
    const b = await account();
    const { invitation } = await invite(b, uniqueEmail(), 'member');
    const bws = b.workspace.id;
    assertProblem(await a.as.post(`/workspaces/${bws}/invitations`, { email: uniqueEmail(), role: 'member' }), 404);
    assertProblem(await a.as.get(`/workspaces/${bws}/invitations`), 404);
    assertProblem(await a.as.delete(`/workspaces/${bws}/invitations/${invitation.id}`), 404);
    // B's invitation id under A's own workspace: no such invitation there.
    assertProblem(await a.as.delete(`/workspaces/${a.workspace.id}/invitations/${invitation.id}`), 404);
    assertProblem(await a.as.delete(`/workspaces/${a.workspace.id}/invitations/${randomUUID()}`), 404);
    assertProblem(await a.as.delete(`/workspaces/${a.workspace.id}/invitations/not-a-uuid`), 404);
    assert.equal((await b.as.get(`/workspaces/${bws}/invitations`)).body.items.length, 1, 'still pending');
  });
});

describe('invitation expiry', { timeout: 60000 }, () => {
  let kiln;
  before(async () => { kiln = await launchKiln({ env: { KILN_AUTH_INVITATION_TTL_S: '1' } }); });
  after(async () => { if (kiln) assert.equal(await kiln.close(), 0); });

  it('an expired invitation is refused with 410', async () => {
    const api = apiClient(kiln);
    const owner = await api.register();
    const ownerToken = (await api.login(owner)).access;
    const email = uniqueEmail();
    const res = await api.authed(ownerToken).post(`/workspaces/${owner.workspace.id}/invitations`, { email, role: 'member' });
    assert.equal(res.status, 201);
    const token = tokenOf(await waitForMail(kiln, email, INVITE));
    // Asked by an account with another address: 403 while the invitation lives, 410 once it expired.
    const stranger = await api.register();
    const as = api.authed((await api.login(stranger)).access);
    const gone = await eventually(async () => {
      const r = await as.post('/invitations/accept', { token });
      if (r.status !== 403 && r.status !== 410) throw new Error(`unexpected ${r.status}: ${r.text}`);
      return r.status === 410 && r;
    }, { what: 'the invitation expired' });
    assertProblem(gone, 410);
    const reg = await api.registerRaw({ email, password: strongPassword(), name: 'Late', invitation_token: token });
    assertProblem(reg, 410);
  });
});
