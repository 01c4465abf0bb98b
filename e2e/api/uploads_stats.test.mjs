// GET /sync-sessions/stats against the real binary: the documented shape (zeros and nulls when
// there is nothing), the sums over sessions whose counters are set in the database (the sync job's
// part), the filters, viewers reading, another workspace's ids matching nothing, and "stats" never
// taken for a session id.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertInvalid, assertProblem, hex, launchWithAccount, signUp, uniqueEmail } from './lib/api.mjs';
import { psql } from './lib/workers.mjs';

const EMPTY = {
  sessions: { total: 0, pending: 0, in_progress: 0, completed: 0, completed_with_errors: 0, failed: 0, cancelled: 0 },
  files: { total: 0, done: 0, skipped: 0, failed: 0 },
  bytes: { total: 0, done: 0 },
  success_rate: null,
  throughput_bytes_per_second: null,
  average_duration_s: null,
  by_project: [],
};

describe('sync session statistics', { timeout: 120000 }, () => {
  let kiln;
  let c;
  let o;

  before(async () => {
    ({ kiln, c, owner: o } = await launchWithAccount());
  });
  after(async () => {
    if (kiln) assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM');
  });

  const stats = async (as, query = '') => {
    const res = await as.get(`/sync-sessions/stats${query}`);
    assert.equal(res.status, 200, res.text);
    return res.body;
  };
  // A project with one cycle, and `n` sessions in it.
  const projectWithSessions = async (n) => {
    const project = await o.as.post('/projects', { name: `Project ${hex(4)}` });
    assert.equal(project.status, 201, project.text);
    const cycle = await o.as.post('/cycles', { project_id: project.body.id, cycle_name: 'C', cycle_number: 1 });
    assert.equal(cycle.status, 201, cycle.text);
    const sessions = [];
    for (let i = 0; i < n; i += 1) {
      const s = await o.as.post('/sync-sessions', { cycle_id: cycle.body.id });
      assert.equal(s.status, 201, s.text);
      sessions.push(s.body.id);
    }
    return { project: project.body, cycle: cycle.body, sessions };
  };
  const setSession = (id, set) => psql(kiln.database, `UPDATE upload_sync_sessions SET ${set} WHERE id = '${id}'`);

  it('answers zeros and nulls in the documented shape when there is nothing', async () => {
    assert.deepEqual(await stats(o.as), EMPTY);
    const doc = await (await fetch(`${kiln.url}/openapi.json`)).json();
    const op = doc.paths['/api/v1/sync-sessions/stats'];
    assert.deepEqual(Object.keys(op), ['get']);
    const schema = op.get.responses['200'].content['application/json'].schema;
    assert.deepEqual(Object.keys(schema.properties).sort(), Object.keys(EMPTY).sort());
  });

  it('sums the sessions, filtered by project and cycle', async () => {
    const a = await projectWithSessions(2);
    const b = await projectWithSessions(1);
    setSession(a.sessions[0], `state = 'completed', files_total = 4, files_done = 3, files_skipped = 1,
      bytes_total = 4000, bytes_done = 3000, started_at = '2026-12-01T10:00:00Z', finished_at = '2026-12-01T10:00:04Z'`);
    setSession(a.sessions[1], `state = 'completed_with_errors', files_total = 4, files_done = 1, files_failed = 3,
      bytes_total = 4000, bytes_done = 1000, started_at = '2026-12-01T10:00:00Z', finished_at = '2026-12-01T10:00:12Z'`);
    setSession(b.sessions[0], `state = 'in_progress', files_total = 10, files_done = 2, bytes_total = 100,
      bytes_done = 20, started_at = '2026-12-01T10:00:00Z'`);

    const all = await stats(o.as);
    assert.deepEqual(all.sessions, { total: 3, pending: 0, in_progress: 1, completed: 1, completed_with_errors: 1,
      failed: 0, cancelled: 0 });
    assert.deepEqual(all.files, { total: 18, done: 6, skipped: 1, failed: 3 });
    assert.deepEqual(all.bytes, { total: 8100, done: 4020 });
    assert.equal(all.success_rate, 0.7, '(6 + 1) / (6 + 1 + 3)');
    assert.equal(all.throughput_bytes_per_second, 250, '4000 bytes in 4 + 12 s; the running session is not in it');
    assert.equal(all.average_duration_s, 8);
    assert.deepEqual(all.by_project, [
      { project_id: a.project.id, name: a.project.name, sessions: 2, files_done: 4, bytes_done: 4000 },
      { project_id: b.project.id, name: b.project.name, sessions: 1, files_done: 2, bytes_done: 20 },
    ]);

    const onlyB = await stats(o.as, `?project_id=${b.project.id}`);
    assert.equal(onlyB.sessions.total, 1);
    assert.equal(onlyB.throughput_bytes_per_second, null, 'no finished session in B');
    assert.deepEqual(onlyB.by_project.map((p) => p.project_id), [b.project.id]);
    assert.equal((await stats(o.as, `?cycle_id=${a.cycle.id}`)).files.done, 4);
    assert.equal((await stats(o.as, '?since=2100-01-01T00:00:00Z')).sessions.total, 0);
    assertInvalid(await o.as.get('/sync-sessions/stats?project_id=nope&cycle_id=1&since=today'),
      ['project_id', 'cycle_id', 'since']);

    // Another workspace: it sees none of these, and naming them matches nothing (no 404, no leak).
    const stranger = await signUp(c);
    assert.deepEqual(await stats(stranger.as), EMPTY);
    assert.deepEqual(await stats(stranger.as, `?project_id=${a.project.id}`), EMPTY);
    assert.deepEqual(await stats(stranger.as, `?cycle_id=${a.cycle.id}`), EMPTY);
  });

  it('lets a viewer read it, and never takes "stats" for a session id', async () => {
    const email = uniqueEmail();
    const added = await o.as.post(`/workspaces/${o.workspace.id}/users`, { email, name: 'viewer', role: 'viewer' });
    assert.equal(added.status, 201, added.text);
    const first = await c.login({ email, password: added.body.temporary_password });
    const password = `viewer passphrase ${added.body.member.user_id}`;
    await c.authed(first.access).post('/auth/change-password',
      { current_password: added.body.temporary_password, new_password: password });
    const viewer = c.authed((await c.login({ email, password })).access);
    const seen = await stats(viewer);
    assert.deepEqual(Object.keys(seen), Object.keys(EMPTY));
    assert.ok(seen.sessions.total >= 3, 'the workspace\'s sessions');
    assertProblem(await c.call('GET', '/sync-sessions/stats'), 401);

    // The other methods on the path are the session routes', for which "stats" is no id.
    assertProblem(await o.as.delete('/sync-sessions/stats'), 404);
    assertProblem(await o.as.patch('/sync-sessions/stats', { max_workers: 2 }), 404);
    assertProblem(await o.as.get('/sync-sessions/stats/files'), 404);
  });
});
