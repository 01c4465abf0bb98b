// Resumable uploads (tus 1.0 at /api/v1/tus) against the real binary: discovery, creation,
// PATCH in pieces with HEAD between, the finished upload becoming a file that downloads byte for
// byte; a PATCH cut off mid-body whose received bytes stay (HEAD shows them, PATCH resumes);
// offset mismatch 409, wrong Tus-Resumable 412, termination, the quota reserved at creation,
// viewers refused, another workspace's 404s; and the standard client (tus-js-client) end to end.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { assertProblem, launchWithAccount, platformAdmin, signUp, uniqueEmail } from './lib/api.mjs';
import { eventually } from './lib/kiln.mjs';
import { psql } from './lib/workers.mjs';

const sha256 = (b) => createHash('sha256').update(b).digest('hex');
const b64 = (s) => Buffer.from(s).toString('base64');
const V = { 'tus-resumable': '1.0.0' };

async function tus(kiln, token, method, where, { headers = {}, body } = {}) {
  const url = where.startsWith('http') ? where : `${kiln.url}${where}`;
  const res = await fetch(url, {
    method, body, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, body: json };
}

async function create(kiln, token, length, { filename = 'data.bin', filetype = 'application/octet-stream' } = {}) {
  return tus(kiln, token, 'POST', '/api/v1/tus', {
    headers: { ...V, 'upload-length': String(length), 'upload-metadata': `filename ${b64(filename)},filetype ${b64(filetype)}` },
  });
}

const patch = (kiln, token, location, offset, bytes, headers = {}) => tus(kiln, token, 'PATCH', location, {
  headers: { ...V, 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset), ...headers },
  body: bytes,
});
const head = (kiln, token, location) => tus(kiln, token, 'HEAD', location, { headers: V });

function usePlan(kiln, workspace, { storage, maxFile }) {
  const plan = `tus_${randomBytes(4).toString('hex')}`;
  psql(kiln.database, `INSERT INTO plans (id, name, max_members, max_api_keys, storage_bytes, max_file_bytes,
    max_concurrent_jobs, monthly_credits) VALUES ('${plan}', 'Tus test', 5, 5, ${storage}, ${maxFile}, 2, 0);
    UPDATE workspaces SET plan = '${plan}' WHERE id = '${workspace}'`);
}

async function download(kiln, token, id) {
  const res = await fetch(`${kiln.url}/api/v1/files/${id}/content`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  return Buffer.from(await res.arrayBuffer());
}

describe('tus resumable uploads', { timeout: 90000 }, () => {
  let kiln;
  let c;
  let o;
  let blobs;
  let staging;
  before(async () => {
    blobs = mkdtempSync(path.join(os.tmpdir(), 'kiln-blobs-'));
    staging = mkdtempSync(path.join(os.tmpdir(), 'kiln-tus-'));
    ({ kiln, c, owner: o } = await launchWithAccount({
      env: { KILN_STORAGE_LOCAL_ROOT: blobs, KILN_STORAGE_TUS_DIR: staging },
    }));
  });
  after(async () => {
    if (kiln) assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM');
    rmSync(blobs, { recursive: true, force: true });
    rmSync(staging, { recursive: true, force: true });
  });

  it('answers discovery with its version, extensions and the plan limit', async () => {
    const anonymous = await tus(kiln, null, 'OPTIONS', '/api/v1/tus');
    assert.equal(anonymous.status, 204);
    assert.equal(anonymous.headers.get('tus-version'), '1.0.0');
    assert.equal(anonymous.headers.get('tus-resumable'), '1.0.0');
    assert.deepEqual(anonymous.headers.get('tus-extension').split(','), ['creation', 'termination', 'expiration']);
    assert.equal(anonymous.headers.get('tus-max-size'), null);
    const signed = await tus(kiln, o.token, 'OPTIONS', '/api/v1/tus');
    const usage = (await o.as.get(`/workspaces/${o.workspace.id}/usage`)).body;
    assert.equal(signed.headers.get('tus-max-size'), String(usage.max_file_bytes));
  });

  it('takes an upload in pieces and makes it a file that downloads byte for byte', async () => {
    const bytes = randomBytes(300000);
    const made = await create(kiln, o.token, bytes.length, { filename: 'report.bin' });
    assert.equal(made.status, 201, made.text);
    assert.equal(made.headers.get('tus-resumable'), '1.0.0');
    const location = made.headers.get('location');
    assert.match(location, /^\/api\/v1\/tus\/[0-9a-f-]{36}$/);
    assert.equal(made.headers.get('upload-offset'), '0');
    const expires = Date.parse(made.headers.get('upload-expires'));
    assert.ok(expires > Date.now() + 23 * 3600e3 && expires < Date.now() + 25 * 3600e3, made.headers.get('upload-expires'));
    assert.equal((await o.as.get(`/workspaces/${o.workspace.id}/usage`)).body.bytes_reserved, bytes.length);

    const cuts = [0, 100000, 250000, bytes.length];
    for (let i = 0; i + 1 < cuts.length; i += 1) {
      const h = await head(kiln, o.token, location);
      assert.equal(h.status, 200);
      assert.equal(h.headers.get('upload-offset'), String(cuts[i]));
      assert.equal(h.headers.get('upload-length'), String(bytes.length));
      assert.equal(h.headers.get('cache-control'), 'no-store');
      assert.equal(h.headers.get('upload-metadata'), `filename ${b64('report.bin')},filetype ${b64('application/octet-stream')}`);
      const res = await patch(kiln, o.token, location, cuts[i], bytes.subarray(cuts[i], cuts[i + 1]));
      assert.equal(res.status, 204, res.text);
      assert.equal(res.headers.get('upload-offset'), String(cuts[i + 1]));
    }
    const done = await head(kiln, o.token, location);
    assert.equal(done.headers.get('upload-offset'), String(bytes.length));
    const fileId = done.headers.get('kiln-file-id');
    assert.ok(fileId);
    const file = (await o.as.get(`/files/${fileId}`)).body;
    assert.equal(file.name, 'report.bin');
    assert.equal(file.size, bytes.length);
    assert.equal(file.sha256, sha256(bytes));
    assert.ok((await o.as.get('/files')).body.items.some((f) => f.id === fileId), 'listed in GET /files');
    assert.ok((await download(kiln, o.token, fileId)).equals(bytes));
    const usage = (await o.as.get(`/workspaces/${o.workspace.id}/usage`)).body;
    assert.equal(usage.bytes_reserved, 0);
    assert.equal(usage.bytes_stored, bytes.length);
    const audit = await o.as.get('/audit-events?limit=50');
    assert.equal(audit.status, 200, audit.text);
    const actions = audit.body.items.map((e) => e.action);
    for (const a of ['tus.create', 'tus.append', 'file.upload']) assert.ok(actions.includes(a), `${a} in ${actions}`);
    // A PATCH of a finished upload at its end changes nothing.
    const again = await patch(kiln, o.token, location, bytes.length, Buffer.alloc(0));
    assert.equal(again.status, 204);
  });

  it('keeps the bytes of a PATCH cut off mid-body; HEAD shows them and PATCH resumes', async () => {
    const bytes = randomBytes(200000);
    const made = await create(kiln, o.token, bytes.length, { filename: 'resumed.bin' });
    const location = made.headers.get('location');
    const sent = 70001;
    const socket = net.connect(new URL(kiln.url).port, '127.0.0.1');
    await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    const header = `PATCH ${location} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${o.token}\r\n`
      + `Tus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n`
      + `Content-Length: ${bytes.length}\r\n\r\n`;
    await new Promise((resolve, reject) => socket.write(Buffer.concat([Buffer.from(header), bytes.subarray(0, sent)]),
      (e) => (e ? reject(e) : resolve())));
    socket.destroy(); // the client goes away with 130 KB still to send

    const offset = await eventually(async () => {
      const h = await head(kiln, o.token, location);
      return h.headers.get('upload-offset') === String(sent) && h;
    }, { timeoutMs: 15000, what: `offset ${sent} after the cut` });
    assert.equal(offset.status, 200);
    assertProblem(await patch(kiln, o.token, location, 0, bytes), 409);
    const rest = await patch(kiln, o.token, location, sent, bytes.subarray(sent));
    assert.equal(rest.status, 204, rest.text);
    const fileId = rest.headers.get('kiln-file-id');
    assert.ok((await download(kiln, o.token, fileId)).equals(bytes), 'the resumed file is the original');
  });

  it('refuses a wrong offset (409), another protocol version (412), another type (415), too many bytes (413)', async () => {
    const made = await create(kiln, o.token, 10);
    const location = made.headers.get('location');
    const mismatch = await patch(kiln, o.token, location, 5, Buffer.from('abcde'));
    assertProblem(mismatch, 409);
    assert.equal(mismatch.headers.get('tus-resumable'), '1.0.0');
    for (const version of ['0.2.2', undefined]) {
      const headers = { 'content-type': 'application/offset+octet-stream', 'upload-offset': '0' };
      if (version) headers['tus-resumable'] = version;
      const res = await tus(kiln, o.token, 'PATCH', location, { headers, body: Buffer.from('abc') });
      assertProblem(res, 412);
      assert.equal(res.headers.get('tus-version'), '1.0.0');
    }
    assertProblem(await patch(kiln, o.token, location, 0, Buffer.from('abc'), { 'content-type': 'text/plain' }), 415);
    assertProblem(await patch(kiln, o.token, location, 0, Buffer.alloc(11)), 413);
    // Chunked (no Content-Length): refused while reading, and none of its bytes count.
    const pieces = [Buffer.alloc(6, 1), Buffer.alloc(6, 2)];
    const chunked = await fetch(`${kiln.url}${location}`, {
      method: 'PATCH',
      duplex: 'half',
      headers: { authorization: `Bearer ${o.token}`, ...V, 'content-type': 'application/offset+octet-stream', 'upload-offset': '0' },
      body: new ReadableStream({ pull(ctl) { const p = pieces.shift(); if (p) ctl.enqueue(p); else ctl.close(); } }),
    }).then(async (r) => { await r.arrayBuffer(); return r.status; }, () => 0);
    assert.ok([413, 0].includes(chunked), `413 or the connection closed: ${chunked}`);
    assertProblem(await tus(kiln, o.token, 'POST', '/api/v1/tus', { headers: V }), 400);
    assertProblem(await tus(kiln, o.token, 'POST', '/api/v1/tus',
      { headers: { ...V, 'upload-length': '5', 'upload-metadata': 'filename ***' } }), 400);
    assert.equal((await head(kiln, o.token, location)).headers.get('upload-offset'), '0', 'nothing was taken');
    // An upload past its expiry is gone for the client (the sweep deletes it later).
    psql(kiln.database, `UPDATE tus_uploads SET expires_at = now() - interval '1 second'
      WHERE id = '${location.split('/').pop()}'`);
    assert.equal((await head(kiln, o.token, location)).status, 404);
  });

  it('terminates an upload and gives its reservation back; the plan bounds what may be reserved', async () => {
    const u = await signUp(c);
    usePlan(kiln, u.workspace.id, { storage: 250000, maxFile: 100000 });
    assertProblem(await create(kiln, u.token, 100001), 413);
    const a = await create(kiln, u.token, 100000);
    const b = await create(kiln, u.token, 100000);
    assert.equal(a.status, 201);
    assert.equal(b.status, 201);
    const full = await create(kiln, u.token, 60000);
    assert.equal(assertProblem(full, 402).limit, 'storage_bytes');
    assert.equal((await u.as.get(`/workspaces/${u.workspace.id}/usage`)).body.bytes_reserved, 200000);
    // A plain upload cannot use the reserved bytes either.
    const form = new FormData();
    form.append('file', new Blob([randomBytes(60000)]), 'x.bin');
    const plain = await fetch(`${kiln.url}/api/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${u.token}` }, body: form });
    assert.equal(plain.status, 402);
    await plain.arrayBuffer();

    const gone = await tus(kiln, u.token, 'DELETE', a.headers.get('location'), { headers: V });
    assert.equal(gone.status, 204);
    assert.equal(gone.headers.get('tus-resumable'), '1.0.0');
    assert.equal((await head(kiln, u.token, a.headers.get('location'))).status, 404);
    assertProblem(await patch(kiln, u.token, a.headers.get('location'), 0, Buffer.from('x')), 404);
    assertProblem(await tus(kiln, u.token, 'DELETE', a.headers.get('location'), { headers: V }), 404);
    assert.equal((await u.as.get(`/workspaces/${u.workspace.id}/usage`)).body.bytes_reserved, 100000);
    assert.equal((await create(kiln, u.token, 60000)).status, 201, 'the space is free again');
  });

  it('refuses viewers and keeps uploads out of other workspaces (404)', async () => {
    const made = await create(kiln, o.token, 10);
    const location = made.headers.get('location');
    const email = uniqueEmail();
    const added = await o.as.post(`/workspaces/${o.workspace.id}/users`, { email, name: 'V', role: 'viewer' });
    assert.equal(added.status, 201, added.text);
    const first = await c.login({ email, password: added.body.temporary_password });
    const password = `viewer passphrase ${added.body.member.user_id}`;
    await c.authed(first.access).post('/auth/change-password',
      { current_password: added.body.temporary_password, new_password: password });
    const viewer = (await c.login({ email, password })).access;
    assertProblem(await create(kiln, viewer, 10), 403);
    assertProblem(await patch(kiln, viewer, location, 0, Buffer.from('x')), 403);

    const other = await signUp(c);
    assert.equal((await head(kiln, other.token, location)).status, 404); // HEAD: no problem body
    assertProblem(await patch(kiln, other.token, location, 0, Buffer.from('x')), 404);
    assertProblem(await tus(kiln, other.token, 'DELETE', location, { headers: V }), 404);
    assert.equal((await head(kiln, o.token, '/api/v1/tus/not-a-uuid')).status, 404);
    assertProblem(await tus(kiln, null, 'POST', '/api/v1/tus', { headers: { ...V, 'upload-length': '1' } }), 401);
    assert.equal((await head(kiln, o.token, location)).headers.get('upload-offset'), '0');
  });

  it('works with the standard client (tus-js-client)', async () => {
    const require = createRequire(path.join(process.cwd(), 'web', 'package.json'));
    let tusClient;
    try {
      tusClient = require('tus-js-client');
    } catch {
      assert.fail('tus-js-client is a devDependency of web/ (npm ci in web/)');
    }
    const bytes = randomBytes(150000);
    const url = await new Promise((resolve, reject) => {
      const upload = new tusClient.Upload(bytes, {
        endpoint: `${kiln.url}/api/v1/tus`,
        chunkSize: 64 * 1024,
        retryDelays: null,
        headers: { Authorization: `Bearer ${o.token}` },
        metadata: { filename: 'from-client.bin', filetype: 'application/x-test' },
        onError: reject,
        onSuccess: () => resolve(upload.url),
      });
      upload.start();
    });
    const h = await head(kiln, o.token, url);
    assert.equal(h.headers.get('upload-offset'), String(bytes.length));
    const fileId = h.headers.get('kiln-file-id');
    const file = (await o.as.get(`/files/${fileId}`)).body;
    assert.equal(file.name, 'from-client.bin');
    assert.equal(file.declared_type, 'application/x-test');
    assert.ok((await download(kiln, o.token, fileId)).equals(bytes));
  });

  it('sweeps expired uploads (staged bytes, row, reservation) and files left uploading (row, blob)', async () => {
    const u = await signUp(c);
    const made = await create(kiln, u.token, 1000);
    const location = made.headers.get('location');
    const id = location.split('/').pop();
    assert.equal((await patch(kiln, u.token, location, 0, randomBytes(400))).status, 204);
    const staged = path.join(staging, u.workspace.id, id);
    assert.ok(existsSync(staged), 'staged on disk');
    // What a process that died mid-upload two days ago left: an 'uploading' row and its blob.
    const stale = randomUUID();
    const blob = path.join(blobs, 'ws', u.workspace.id, 'files', stale);
    mkdirSync(path.dirname(blob), { recursive: true });
    writeFileSync(blob, 'partial');
    psql(kiln.database, `INSERT INTO files (workspace_id, id, name, content_type, declared_type, storage_key, status,
      created_by, created_at) SELECT workspace_id, '${stale}', 'x', '', '', 'ws/${u.workspace.id}/files/${stale}',
      'uploading', created_by, now() - interval '2 days' FROM tus_uploads WHERE id = '${id}';
      UPDATE tus_uploads SET expires_at = now() - interval '1 second' WHERE id = '${id}'`);
    assert.equal((await u.as.get(`/workspaces/${u.workspace.id}/usage`)).body.bytes_reserved, 1000);

    const admin = await platformAdmin(c, { database: kiln.database });
    const run = await admin.post('/admin/schedules/storage.sweep/run');
    assert.equal(run.status, 202, run.text);
    await eventually(() => !existsSync(staged) && !existsSync(blob), { what: 'the sweep', timeoutMs: 15000 });
    await eventually(async () => psql(kiln.database, `SELECT count(*) FROM tus_uploads WHERE id = '${id}'`) === '0'
      && psql(kiln.database, `SELECT count(*) FROM files WHERE id = '${stale}'`) === '0',
    { what: 'the rows to go', timeoutMs: 15000 });
    assert.equal((await u.as.get(`/workspaces/${u.workspace.id}/usage`)).body.bytes_reserved, 0);
  });

  it('documents the routes in /openapi.json', async () => {
    const spec = await (await fetch(`${kiln.url}/openapi.json`)).json();
    assert.ok(spec.paths['/api/v1/tus'].post);
    assert.ok(spec.paths['/api/v1/tus'].options);
    for (const m of ['head', 'patch', 'delete']) assert.ok(spec.paths['/api/v1/tus/{id}'][m], m);
  });
});

describe('tus resumable uploads (S3 storage)', { timeout: 60000 }, () => {
  const endpoint = process.env.KILN_TEST_S3_ENDPOINT;
  let kiln;
  let o;
  let staging;
  before(async () => {
    if (!endpoint) return;
    const bucket = `kiln-tus-${randomBytes(4).toString('hex')}`;
    const made = await fetch(`${endpoint}/${bucket}`, { method: 'PUT' });
    assert.equal(made.status, 200, await made.text());
    staging = mkdtempSync(path.join(os.tmpdir(), 'kiln-tus-'));
    ({ kiln, owner: o } = await launchWithAccount({
      env: {
        KILN_STORAGE_BACKEND: 's3',
        KILN_STORAGE_S3_ENDPOINT: endpoint,
        KILN_STORAGE_S3_BUCKET: bucket,
        KILN_STORAGE_S3_ACCESS_KEY_ID: 'S3RVER',
        KILN_STORAGE_S3_SECRET_ACCESS_KEY: 'S3RVER',
        KILN_STORAGE_TUS_DIR: staging,
      },
    }));
  });
  after(async () => {
    if (kiln) assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM');
    if (staging) rmSync(staging, { recursive: true, force: true });
  });

  it('completes into the bucket: the presigned download serves the same bytes', async (t) => {
    if (!endpoint) {
      assert.ok(process.env.CI !== 'true', 'KILN_TEST_S3_ENDPOINT is required under CI');
      t.skip('KILN_TEST_S3_ENDPOINT not set');
      return;
    }
    const bytes = randomBytes(250000);
    const made = await create(kiln, o.token, bytes.length, { filename: 's3.bin' });
    assert.equal(made.status, 201, made.text);
    const location = made.headers.get('location');
    assert.equal((await patch(kiln, o.token, location, 0, bytes.subarray(0, 120000))).status, 204);
    const last = await patch(kiln, o.token, location, 120000, bytes.subarray(120000));
    assert.equal(last.status, 204, last.text);
    const fileId = last.headers.get('kiln-file-id');
    assert.equal((await o.as.get(`/files/${fileId}`)).body.sha256, sha256(bytes));
    const got = await fetch(`${kiln.url}/api/v1/files/${fileId}/content`,
      { headers: { authorization: `Bearer ${o.token}` }, redirect: 'manual' });
    assert.equal(got.status, 302);
    const fetched = await fetch(got.headers.get('location'));
    assert.ok(Buffer.from(await fetched.arrayBuffer()).equals(bytes), 'the same bytes from the bucket');
    assert.ok(!existsSync(path.join(staging, o.workspace.id, location.split('/').pop())), 'staging removed');
  });
});
