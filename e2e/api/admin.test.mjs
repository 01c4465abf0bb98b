// /api/v1/admin/…: platform administrators see every workspace and account, change plans,
// grant administration and deactivate accounts; nobody else gets past 403.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kilnBin } from './lib/kiln.mjs';
import {
  apiClient, assertInvalid, assertProblem, assertUnauthorized, launchForManyAccounts, strongPassword, uniqueEmail,
} from './lib/api.mjs';

describe('platform administration', { timeout: 120000 }, () => {
  let kiln;
  let c;
  let admin;
  before(async () => {
    kiln = await launchForManyAccounts();
    c = apiClient(kiln);
    // The way an operator makes one: the command line, against the same database.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-admin-'));
    try {
      const email = uniqueEmail();
      const password = strongPassword();
      writeFileSync(path.join(dir, 'pw'), `${password}\n`);
      const made = spawnSync(kilnBin(), ['admin', 'create-user', '--email', email, '--name', 'Operator',
        '--platform-admin', '--password-file', path.join(dir, 'pw')],
      { encoding: 'utf8', env: { ...process.env, KILN_DATABASE_NAME: kiln.database }, timeout: 20000 });
      assert.equal(made.status, 0, made.stderr);
      const { access } = await c.login({ email, password });
      admin = c.authed(access);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  after(async () => { if (kiln) assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM'); });

  async function account() {
    const a = await c.register();
    const { access } = await c.login(a);
    return { ...a, token: access, as: c.authed(access) };
  }

  it('refuses everyone but platform administrators', async () => {
    const someone = await account();
    for (const p of ['/admin/workspaces', '/admin/users', '/admin/plans', `/admin/users/${someone.user.id}`]) {
      assertProblem(await someone.as.get(p), 403);
      assertUnauthorized(await c.call('GET', p));
    }
    assertProblem(await someone.as.patch(`/admin/workspaces/${someone.workspace.id}`, { plan: 'enterprise' }), 403);
    assert.equal((await someone.as.get(`/workspaces/${someone.workspace.id}/plan`)).body.plan.id, 'free');
  });

  it('lists every workspace and account with search and keyset pages', async () => {
    const tag = `Zq${Date.now()}`;
    const made = [];
    for (let i = 0; i < 3; ++i) made.push(await c.register({ name: `${tag} ${i}` }));
    const all = [];
    let cursor = null;
    do {
      const res = await admin.get(`/admin/users?q=${encodeURIComponent(tag.toLowerCase())}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(res.status, 200, res.text);
      assert.ok(res.body.items.length <= 2);
      all.push(...res.body.items);
      cursor = res.body.next_cursor;
    } while (cursor);
    assert.deepEqual(all.map((u) => u.id), made.map((m) => m.user.id).reverse(), 'newest first, each once');
    assert.equal(all[0].workspaces, 1);
    assert.equal(all[0].is_platform_admin, false);

    const ws = await admin.get(`/admin/workspaces?q=${encodeURIComponent(`${tag} 1`)}`);
    assert.equal(ws.status, 200, ws.text);
    assert.deepEqual(ws.body.items.map((w) => w.id), [made[1].workspace.id]);
    assert.equal(ws.body.items[0].members, 1);
    assert.equal(ws.body.next_cursor, null);
    const one = await admin.get(`/admin/workspaces/${made[2].workspace.id}`);
    assert.equal(one.body.name, made[2].workspace.name);
    assertProblem(await admin.get('/admin/workspaces/0190a2b4-0000-7000-8000-00000000dead'), 404);
    assertInvalid(await admin.get('/admin/users?limit=0&cursor=nope'), ['limit', 'cursor']);
  });

  it('changes a workspace’s plan, which lifts its limits, and audits it there', async () => {
    const o = await account();
    const ws = o.workspace.id;
    const bad = await admin.patch(`/admin/workspaces/${ws}`, { plan: 'platinum' });
    assertInvalid(bad, ['plan']);
    const plans = await admin.get('/admin/plans');
    assert.ok(plans.body.items.some((p) => p.id === 'team'));
    const changed = await admin.patch(`/admin/workspaces/${ws}`, { plan: 'team' });
    assert.equal(changed.status, 200, changed.text);
    assert.equal(changed.body.plan, 'team');
    const seen = await o.as.get(`/workspaces/${ws}/plan`);
    assert.equal(seen.body.plan.id, 'team');
    const events = await o.as.get('/audit-events?action=admin.workspace_plan');
    assert.equal(events.body.items.length, 1);
    assert.deepEqual(events.body.items[0].detail, { plan: 'team' });
  });

  it('deactivates an account (its sessions end, sign-in refused), reactivates it, grants administration', async () => {
    const a = await account();
    const off = await admin.patch(`/admin/users/${a.user.id}`, { deactivated: true });
    assert.equal(off.status, 200, off.text);
    assert.equal(off.body.deactivated, true);
    assertUnauthorized(await a.as.me());
    assertUnauthorized(await c.loginRaw({ email: a.email, password: a.password }));
    const on = await admin.patch(`/admin/users/${a.user.id}`, { deactivated: false });
    assert.equal(on.body.deactivated, false);
    await c.login(a);

    const granted = await admin.patch(`/admin/users/${a.user.id}`, { is_platform_admin: true });
    assert.equal(granted.body.is_platform_admin, true);
    const { access } = await c.login(a);
    assert.equal((await c.authed(access).get('/admin/users?limit=1')).status, 200);
    // Nobody locks themselves out; another administrator can always undo.
    assertProblem(await c.authed(access).patch(`/admin/users/${a.user.id}`, { is_platform_admin: false }), 409);
    assertProblem(await admin.patch('/admin/users/0190a2b4-0000-7000-8000-00000000dead', { deactivated: true }), 404);
  });
});
