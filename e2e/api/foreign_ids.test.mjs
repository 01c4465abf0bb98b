// Another workspace's resource is a 404 — never 403, never 500 — on every route that takes an
// id. The routes come from /openapi.json, so a new route is probed as soon as it exists; a
// path parameter this file does not know fails the test by name until it is added below.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { launchKiln } from './lib/kiln.mjs';
import { apiClient, assertProblem, uniqueEmail } from './lib/api.mjs';

// Platform administrators see every workspace by design (admin.test.mjs); everyone else gets 403.
const EXEMPT = [/^\/api\/v1\/admin\//];

// A valid body per route, so that the answer is about the id and not about the body.
const BODIES = {
  'PATCH /api/v1/workspaces/{id}': { name: 'taken over' },
  'POST /api/v1/workspaces/{id}/users': () => ({ email: uniqueEmail(), name: 'Intruder', role: 'viewer' }),
  'PATCH /api/v1/workspaces/{id}/users/{user_id}': { name: 'Renamed' },
  'PATCH /api/v1/workspaces/{id}/members/{user_id}': { role: 'viewer' },
  'POST /api/v1/workspaces/{id}/api-keys': { name: 'stolen', role: 'admin' },
  'POST /api/v1/workspaces/{id}/invitations': () => ({ email: uniqueEmail(), role: 'admin' }),
  'PATCH /api/v1/storage-connections/{id}': { name: 'taken over', secret_access_key: 'attacker-secret' },
  'PUT /api/v1/projects/{id}': { name: 'taken over' },
  'PATCH /api/v1/projects/{id}': { name: 'taken over' },
  'PUT /api/v1/cycles/{id}': { cycle_name: 'taken over', cycle_number: 99 },
  'PATCH /api/v1/cycles/{id}': { cycle_name: 'taken over' },
  'PUT /api/v1/sync-sessions/{id}': { max_workers: 1 },
  'PATCH /api/v1/sync-sessions/{id}': { max_workers: 1 },
  'POST /api/v1/sync-sessions/{id}/files': { file_id: '0190a2b4-0000-7000-8000-000000000001' },
};

// tus requests name the protocol version (else 412 before anything else is looked at).
const TUS = { 'Tus-Resumable': '1.0.0', 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0' };
const HEADERS = {
  'HEAD /api/v1/tus/{id}': TUS,
  'PATCH /api/v1/tus/{id}': TUS,
  'DELETE /api/v1/tus/{id}': TUS,
};

describe('foreign ids', { timeout: 120000 }, () => {
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

  it('answer 404 on every route that takes an id, and change nothing', async () => {
    const a = await owner();
    const b = await owner();
    const ws = b.workspace.id;
    // B's resources, one of each kind a path can name.
    const managed = await b.as.post(`/workspaces/${ws}/users`, { email: uniqueEmail(), name: 'Managed', role: 'member' });
    assert.equal(managed.status, 201, managed.text);
    const key = await b.as.post(`/workspaces/${ws}/api-keys`, { name: 'b key', role: 'viewer' });
    assert.equal(key.status, 201, key.text);
    const invitation = await b.as.post(`/workspaces/${ws}/invitations`, { email: uniqueEmail(), role: 'viewer' });
    assert.equal(invitation.status, 201, invitation.text);
    const session = (await b.as.get('/auth/sessions')).body.items[0].id;
    // A job that waits (an hour from now), so that cancel and retry would act on it.
    const job = await b.as.post('/jobs', { kind: 'system.sleep', args: { ms: 1 }, run_at: new Date(Date.now() + 3600_000).toISOString() });
    assert.equal(job.status, 201, job.text);
    // A storage connection (created, never contacted: the default allow-list names AWS's hosts).
    const bucket = await b.as.post('/storage-connections', { name: 'b bucket', endpoint: 'https://s3.eu-west-1.amazonaws.com',
      region: 'eu-west-1', bucket: 'b-bucket', access_key_id: 'AKIAB0000000000EXAMPLE', secret_access_key: 'b-secret' });
    assert.equal(bucket.status, 201, bucket.text);
    // A resumable upload (tus), unfinished.
    const upload = await fetch(`${kiln.url}/api/v1/tus`, { method: 'POST',
      headers: { authorization: `Bearer ${b.token}`, 'Tus-Resumable': '1.0.0', 'Upload-Length': '10' } });
    assert.equal(upload.status, 201, await upload.text());
    const uploadId = upload.headers.get('location').split('/').pop();
    // A Data Uploader project, cycle and pending sync session.
    const project = await b.as.post('/projects', { name: 'b project' });
    assert.equal(project.status, 201, project.text);
    const cycle = await b.as.post('/cycles', { project_id: project.body.id, cycle_name: 'b cycle', cycle_number: 1 });
    assert.equal(cycle.status, 201, cycle.text);
    const syncSession = await b.as.post('/sync-sessions', { cycle_id: cycle.body.id });
    assert.equal(syncSession.status, 201, syncSession.text);
    // And one started (it has no files: it ends at once), whose job is a sync's.
    const synced = await b.as.post('/sync-sessions', { cycle_id: cycle.body.id });
    const syncJob = (await b.as.post(`/sync-sessions/${synced.body.id}/start`)).body.job_id;
    assert.ok(syncJob, 'the started session has a job');
    const values = {
      '/api/v1/projects/{id}': { id: project.body.id },
      '/api/v1/cycles/{id}': { id: cycle.body.id },
      '/api/v1/sync-sessions/{id}': { id: syncSession.body.id },
      '/api/v1/sync-sessions/{id}/files': { id: syncSession.body.id },
      '/api/v1/sync-sessions/{id}/start': { id: syncSession.body.id },
      '/api/v1/sync-sessions/{id}/retry-failed': { id: syncSession.body.id },
      '/api/v1/sync-sessions/{id}/cancel': { id: syncSession.body.id },
      '/api/v1/uploads/status/{job_id}': { job_id: syncJob },
      '/api/v1/auth/sessions/{id}': { id: session },
      '/api/v1/tus/{id}': { id: uploadId },
      '/api/v1/storage-connections/{id}': { id: bucket.body.id },
      '/api/v1/storage-connections/{id}/test': { id: bucket.body.id },
      '/api/v1/jobs/{id}': { id: job.body.id },
      '/api/v1/jobs/{id}/cancel': { id: job.body.id },
      '/api/v1/jobs/{id}/retry': { id: job.body.id },
      default: {
        id: ws, user_id: managed.body.member.user_id, key_id: key.body.api_key.id, invitation_id: invitation.body.id,
      },
    };

    const doc = await (await fetch(`${kiln.url}/openapi.json`)).json();
    const probed = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      if (!path.includes('{') || EXEMPT.some((re) => re.test(path))) continue;
      const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      const given = values[path] ?? values.default;
      for (const n of names) assert.ok(given[n], `${path}: add a foreign value for {${n}} to this test`);
      const url = path.replace(/\{([^}]+)\}/g, (_, n) => given[n]).replace('/api/v1', '');
      for (const method of Object.keys(ops)) {
        const route = `${method.toUpperCase()} ${path}`;
        const body = BODIES[route];
        const res = await c.call(method.toUpperCase(), url,
          { token: a.token, body: typeof body === 'function' ? body() : body, headers: HEADERS[route] });
        assert.equal(res.status, 404, `${route} with another workspace's ids: ${res.status} ${res.text}`);
        if (method !== 'head') assertProblem(res, 404); // a HEAD answer has no body
        probed.push(route);
      }
    }
    assert.ok(probed.length >= 12, `probed ${probed.length} routes: ${probed.join(', ')}`);

    // Nothing of B changed.
    const seen = await b.as.get(`/workspaces/${ws}`);
    assert.equal(seen.body.name, b.workspace.name);
    assert.equal((await b.as.get(`/workspaces/${ws}/members`)).body.items.length, 2);
    assert.equal((await b.as.get(`/workspaces/${ws}/api-keys`)).body.items.length, 1);
    assert.equal((await b.as.get('/auth/sessions')).body.items.length, 1);
    assert.deepEqual((await b.as.get(`/workspaces/${ws}/invitations`)).body.items.map((i) => i.id), [invitation.body.id]);
    assert.equal((await c.authed(key.body.key).get(`/workspaces/${ws}`)).status, 200);
    assert.equal((await b.as.get(`/jobs/${job.body.id}`)).body.state, 'scheduled');
    const kept = await b.as.get(`/storage-connections/${bucket.body.id}`);
    assert.deepEqual(kept.body, bucket.body, 'the storage connection is unchanged');
    const still = await fetch(`${kiln.url}/api/v1/tus/${uploadId}`, { method: 'HEAD',
      headers: { authorization: `Bearer ${b.token}`, 'Tus-Resumable': '1.0.0' } });
    assert.equal(still.status, 200);
    assert.equal(still.headers.get('upload-offset'), '0', 'the upload is untouched');
    assert.deepEqual((await b.as.get(`/projects/${project.body.id}`)).body, project.body, 'the project is unchanged');
    assert.deepEqual((await b.as.get(`/cycles/${cycle.body.id}`)).body, cycle.body, 'the cycle is unchanged');
    assert.deepEqual((await b.as.get(`/sync-sessions/${syncSession.body.id}`)).body, syncSession.body,
      'the sync session is unchanged');
  });
});
