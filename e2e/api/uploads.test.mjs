// The Data Uploader's resources against the real binary: the seed's flow (project → cycle →
// sync session → its files) over HTTP with POST/GET/PUT/PATCH/DELETE, the 409 rules, server
// paths confined to uploads.import_roots ('..' and symlink escapes refused with 422 naming
// local_directory), roles, another workspace's 404s, the audit trail and /openapi.json.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assertInvalid, assertProblem, assertTimestamp, hex, launchWithAccount, signUp, uniqueEmail } from './lib/api.mjs';

describe('uploads', { timeout: 120000 }, () => {
  let kiln;
  let c;
  let o;
  let put;
  const base = mkdtempSync(path.join(os.tmpdir(), 'kiln-uploads-e2e-'));
  const root = path.join(base, 'root');
  const outside = path.join(base, 'outside');

  before(async () => {
    mkdirSync(path.join(root, 'batch-1'), { recursive: true });
    mkdirSync(outside, { recursive: true });
    symlinkSync(outside, path.join(root, 'escape'));
    ({ kiln, c, owner: o } = await launchWithAccount({ env: { KILN_UPLOADS_IMPORT_ROOTS: root } }));
    put = (as, p, body) => c.call('PUT', p, { body, token: as.token });
  });
  after(async () => {
    rmSync(base, { recursive: true, force: true });
    if (kiln) assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM');
  });

  const newProject = async (overrides = {}) => {
    const res = await o.as.post('/projects', { name: `Project ${hex(4)}`, ...overrides });
    assert.equal(res.status, 201, res.text);
    return res.body;
  };

  it('runs the seed flow: project, cycle, sync session, files', async () => {
    const project = await newProject({ description: 'drone survey', bucket: 'survey-data', base_prefix: 'surveys/' });
    assert.equal(project.is_active, true);
    assert.equal(project.storage_connection_id, null, 'the server\'s own store');
    assertTimestamp(project.created_at, 'created_at');
    assert.equal((await o.as.get(`/projects/${project.id}`)).body.bucket, 'survey-data');
    assert.ok((await o.as.get('/projects')).body.items.some((p) => p.id === project.id));

    const replaced = await put(o, `/projects/${project.id}`, { name: project.name, description: 'replaced' });
    assert.equal(replaced.status, 200, replaced.text);
    assert.equal(replaced.body.bucket, '', 'PUT resets fields it does not name');
    const patched = await o.as.patch(`/projects/${project.id}`, { is_active: false });
    assert.equal(patched.body.is_active, false);
    assert.equal(patched.body.description, 'replaced', 'PATCH keeps the others');

    const cycle = await o.as.post('/cycles', { project_id: project.id, cycle_name: 'Cycle 1', cycle_number: 1,
      s3_prefix: 'cycle-1/', metadata: { camera: 'X1' }, started_at: '2026-12-01T09:00:00Z' });
    assert.equal(cycle.status, 201, cycle.text);
    assert.equal(cycle.body.status, 'planned');
    assert.deepEqual(cycle.body.metadata, { camera: 'X1' });
    assertProblem(await o.as.post('/cycles', { project_id: project.id, cycle_name: 'Again', cycle_number: 1 }), 409);
    const active = await o.as.patch(`/cycles/${cycle.body.id}`, { status: 'active' });
    assert.equal(active.body.status, 'active');
    assert.equal(active.body.started_at, '2026-12-01T09:00:00.000000Z');
    const listed = await o.as.get(`/cycles?project_id=${project.id}`);
    assert.deepEqual(listed.body.items.map((x) => x.id), [cycle.body.id]);

    const session = await o.as.post('/sync-sessions', { cycle_id: cycle.body.id,
      local_directory: path.join(root, 'batch-1'), include_patterns: ['*.tif'] });
    assert.equal(session.status, 201, session.text);
    assert.equal(session.body.state, 'pending');
    assert.equal(session.body.project_id, project.id);
    assert.equal(session.body.local_directory, realpathSync(path.join(root, 'batch-1')));
    assert.equal(session.body.max_workers, 4);
    assert.equal(session.body.times_to_retry, 3);
    assert.equal(session.body.job_id, null);
    const changed = await o.as.patch(`/sync-sessions/${session.body.id}`, { max_workers: 16, use_find: false });
    assert.equal(changed.status, 200, changed.text);
    assert.equal(changed.body.max_workers, 16);
    assert.deepEqual(changed.body.include_patterns, ['*.tif']);
    const byState = await o.as.get(`/sync-sessions?cycle_id=${cycle.body.id}&state=pending`);
    assert.deepEqual(byState.body.items.map((s) => s.id), [session.body.id]);
    const files = await o.as.get(`/sync-sessions/${session.body.id}/files?status=failed`);
    assert.equal(files.status, 200, files.text);
    assert.deepEqual(files.body, { items: [], next_cursor: null });
    assertInvalid(await o.as.get(`/sync-sessions/${session.body.id}/files?status=lost`), ['status']);

    // A pending session holds its project and cycle.
    assertProblem(await o.as.delete(`/projects/${project.id}`), 409);
    assertProblem(await o.as.delete(`/cycles/${cycle.body.id}`), 409);
    assert.equal((await o.as.delete(`/sync-sessions/${session.body.id}`)).status, 204);
    assertProblem(await o.as.get(`/sync-sessions/${session.body.id}`), 404);
    assert.equal((await o.as.delete(`/projects/${project.id}`)).status, 204);
    assertProblem(await o.as.get(`/cycles/${cycle.body.id}`), 404);
    const again = await o.as.post('/projects', { name: project.name });
    assert.equal(again.status, 201, 'a deleted project\'s name is free again');

    const events = await o.as.get('/audit-events?limit=200');
    const actions = events.body.items.map((e) => e.action).filter((a) => a.startsWith('upload_')).reverse();
    assert.deepEqual(actions.slice(0, 9), ['upload_project.create', 'upload_project.update', 'upload_project.update',
      'upload_cycle.create', 'upload_cycle.update', 'upload_sync_session.create', 'upload_sync_session.update',
      'upload_sync_session.delete', 'upload_project.delete']);
  });

  it('refuses server paths outside the import roots with 422 on local_directory', async () => {
    const project = await newProject();
    const cycle = (await o.as.post('/cycles', { project_id: project.id, cycle_name: 'C', cycle_number: 1 })).body;
    const session = (p) => o.as.post('/sync-sessions', { cycle_id: cycle.id, local_directory: p });
    for (const p of [`${root}/batch-1/../../outside`, `${root}/..`, path.join(root, 'escape'), outside, '/etc',
      'relative/dir', path.join(root, 'missing')]) {
      const res = await session(p);
      const problem = assertInvalid(res, ['local_directory']);
      assert.ok(!problem.errors[0].message.includes(outside), 'the message does not echo the resolved path');
    }
    const escape = assertInvalid(await session(path.join(root, 'escape')), ['local_directory']);
    assert.match(escape.errors[0].message, /symbolic links/);
    assert.match(assertInvalid(await session(`${root}/batch-1/..`), ['local_directory']).errors[0].message, /'\.\.'/);
    // The same check on PUT and PATCH.
    const ok = await session(path.join(root, 'batch-1'));
    assert.equal(ok.status, 201, ok.text);
    assertInvalid(await o.as.patch(`/sync-sessions/${ok.body.id}`, { local_directory: path.join(root, 'escape') }),
      ['local_directory']);
    assertInvalid(await put(o, `/sync-sessions/${ok.body.id}`, { local_directory: `${root}/../outside` }),
      ['local_directory']);
    assert.equal((await o.as.get(`/sync-sessions/${ok.body.id}`)).body.local_directory,
      realpathSync(path.join(root, 'batch-1')), 'unchanged');
  });

  it('names every bad field, and refuses a foreign storage connection per field', async () => {
    assertInvalid(await o.as.post('/projects', { name: '', bucket: 'Bad_Bucket', base_prefix: '/x' }),
      ['name', 'bucket', 'base_prefix']);
    const stranger = await signUp(c);
    const theirs = await stranger.as.post('/storage-connections', { name: 'theirs',
      endpoint: 'https://s3.eu-west-1.amazonaws.com', region: 'eu-west-1', bucket: 'their-bucket',
      access_key_id: 'AKIATHEIRS000000', secret_access_key: 'their-secret' });
    assert.equal(theirs.status, 201, theirs.text);
    assertInvalid(await o.as.post('/projects', { name: `p ${hex(4)}`, storage_connection_id: theirs.body.id }),
      ['storage_connection_id']);
    const project = await newProject();
    assertInvalid(await o.as.post('/cycles', { project_id: project.id, cycle_name: 'C', cycle_number: -1,
      status: 'done', metadata: [1] }), ['cycle_number', 'status', 'metadata']);
    const cycle = (await o.as.post('/cycles', { project_id: project.id, cycle_name: 'C', cycle_number: 1 })).body;
    assertInvalid(await o.as.post('/sync-sessions', { cycle_id: cycle.id, max_workers: 33, times_to_retry: -1,
      include_patterns: [''] }), ['max_workers', 'times_to_retry', 'include_patterns']);
    assertInvalid(await o.as.post('/sync-sessions', { cycle_id: cycle.id, include_patterns: 'x' }), ['include_patterns']);
    assertInvalid(await o.as.post('/sync-sessions', { cycle_id: cycle.id, state: 'in_progress' }), ['state']);
  });

  it('keeps a storage connection while a project uses it', async () => {
    const conn = await o.as.post('/storage-connections', { name: `mine ${hex(4)}`,
      endpoint: 'https://s3.eu-west-1.amazonaws.com', region: 'eu-west-1', bucket: 'my-bucket',
      access_key_id: 'AKIAMINE00000000', secret_access_key: 'my-secret' });
    assert.equal(conn.status, 201, conn.text);
    const project = await newProject({ storage_connection_id: conn.body.id });
    assert.equal(project.storage_connection_id, conn.body.id);
    const refused = assertProblem(await o.as.delete(`/storage-connections/${conn.body.id}`), 409);
    assert.match(refused.detail, /uses this storage connection/);
    assert.equal((await o.as.delete(`/projects/${project.id}`)).status, 204);
    assert.equal((await o.as.delete(`/storage-connections/${conn.body.id}`)).status, 204);
  });

  it('lets viewers read, members run sessions, admins manage; another workspace gets 404', async () => {
    const project = await newProject();
    const cycle = (await o.as.post('/cycles', { project_id: project.id, cycle_name: 'C', cycle_number: 1 })).body;
    const joined = async (role) => {
      const email = uniqueEmail();
      const added = await o.as.post(`/workspaces/${o.workspace.id}/users`, { email, name: role, role });
      assert.equal(added.status, 201, added.text);
      const first = await c.login({ email, password: added.body.temporary_password });
      const password = `${role} passphrase ${added.body.member.user_id}`;
      await c.authed(first.access).post('/auth/change-password',
        { current_password: added.body.temporary_password, new_password: password });
      const token = (await c.login({ email, password })).access;
      return { token, as: c.authed(token) };
    };
    const viewer = await joined('viewer');
    const member = await joined('member');
    assert.equal((await viewer.as.get(`/projects/${project.id}`)).status, 200);
    assert.equal((await viewer.as.get(`/cycles/${cycle.id}`)).status, 200);
    assertProblem(await viewer.as.post('/sync-sessions', { cycle_id: cycle.id }), 403);
    // Not 422 "not inside one of the import roots": a viewer learns nothing about server paths.
    assertProblem(await viewer.as.post('/sync-sessions', { cycle_id: cycle.id, local_directory: '/etc' }), 403);
    for (const who of [viewer, member]) {
      assertProblem(await who.as.post('/projects', { name: `x ${hex(4)}` }), 403);
      assertProblem(await who.as.patch(`/projects/${project.id}`, { name: 'taken' }), 403);
      assertProblem(await who.as.delete(`/projects/${project.id}`), 403);
      assertProblem(await who.as.post('/cycles', { project_id: project.id, cycle_name: 'x', cycle_number: 9 }), 403);
      assertProblem(await who.as.delete(`/cycles/${cycle.id}`), 403);
    }
    const session = await member.as.post('/sync-sessions', { cycle_id: cycle.id });
    assert.equal(session.status, 201, session.text);
    assertProblem(await viewer.as.patch(`/sync-sessions/${session.body.id}`, { max_workers: 2 }), 403);
    assert.equal((await member.as.patch(`/sync-sessions/${session.body.id}`, { max_workers: 2 })).status, 200);

    const stranger = await signUp(c);
    for (const p of [`/projects/${project.id}`, `/cycles/${cycle.id}`, `/sync-sessions/${session.body.id}`,
      `/sync-sessions/${session.body.id}/files`]) {
      assertProblem(await stranger.as.get(p), 404);
    }
    assertProblem(await stranger.as.patch(`/projects/${project.id}`, { name: 'mine' }), 404);
    assertProblem(await put(stranger, `/cycles/${cycle.id}`, { cycle_name: 'mine', cycle_number: 5 }), 404);
    assertProblem(await stranger.as.delete(`/sync-sessions/${session.body.id}`), 404);
    assertInvalid(await stranger.as.post('/sync-sessions', { cycle_id: cycle.id }), ['cycle_id']);
    assert.deepEqual((await stranger.as.get('/projects')).body.items, []);
    assert.equal((await o.as.get(`/projects/${project.id}`)).body.name, project.name, 'unchanged');
  });

  it('documents its routes in /openapi.json', async () => {
    const doc = await (await fetch(`${kiln.url}/openapi.json`)).json();
    for (const r of ['projects', 'cycles', 'sync-sessions']) {
      assert.deepEqual(Object.keys(doc.paths[`/api/v1/${r}`]).sort(), ['get', 'post']);
      assert.deepEqual(Object.keys(doc.paths[`/api/v1/${r}/{id}`]).sort(), ['delete', 'get', 'patch', 'put']);
    }
    assert.deepEqual(Object.keys(doc.paths['/api/v1/sync-sessions/{id}/files']).sort(), ['get', 'post']);
    for (const action of ['start', 'retry-failed', 'cancel']) {
      assert.deepEqual(Object.keys(doc.paths[`/api/v1/sync-sessions/{id}/${action}`]), ['post']);
    }
    assert.deepEqual(Object.keys(doc.paths['/api/v1/uploads/start']), ['post']);
    assert.deepEqual(Object.keys(doc.paths['/api/v1/uploads/status/{job_id}']), ['get']);
  });
});
