// The files API against the real binary: multipart uploads streamed to storage, byte-for-byte
// downloads with Range, the type sniffed from the bytes, the plan's file size (413 while
// streaming, chunked too) and storage quota (402, concurrent uploads included), deletion,
// another workspace's files, usage; and with the S3 backend (s3rver) the presigned redirect.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assertInvalid, assertProblem, launchWithAccount, signUp } from './lib/api.mjs';
import { kilnBin } from './lib/kiln.mjs';
import { psql } from './lib/workers.mjs';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

// POST /files with fetch's own multipart encoding.
async function upload(kiln, token, bytes, { filename = 'data.bin', type = 'application/octet-stream', name } = {}) {
  const form = new FormData();
  form.append('file', new Blob([bytes], { type }), filename);
  if (name !== undefined) form.append('name', name);
  return send(kiln, token, form);
}

async function send(kiln, token, body, headers = {}, extra = {}) {
  const res = await fetch(`${kiln.url}/api/v1/files`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, ...headers }, body, ...extra,
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, body: json };
}

// A multipart body by hand, sent in pieces with chunked transfer encoding (no Content-Length).
function chunkedUpload(kiln, token, bytes) {
  const boundary = `b${randomBytes(8).toString('hex')}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n`
    + 'Content-Type: application/octet-stream\r\n\r\n');
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const pieces = [head];
  for (let i = 0; i < bytes.length; i += 16384) pieces.push(bytes.subarray(i, i + 16384));
  pieces.push(tail);
  const stream = new ReadableStream({
    pull(controller) {
      const next = pieces.shift();
      if (next) controller.enqueue(next); else controller.close();
    },
  });
  return send(kiln, token, stream, { 'content-type': `multipart/form-data; boundary=${boundary}` }, { duplex: 'half' })
    .catch((e) => ({ status: 0, error: e })); // the server may close before taking everything
}

function usePlan(kiln, workspace, { storage, maxFile }) {
  const plan = `files_${randomBytes(4).toString('hex')}`;
  psql(kiln.database, `INSERT INTO plans (id, name, max_members, max_api_keys, storage_bytes, max_file_bytes,
    max_concurrent_jobs, monthly_credits) VALUES ('${plan}', 'Files test', 5, 5, ${storage}, ${maxFile}, 2, 0);
    UPDATE workspaces SET plan = '${plan}' WHERE id = '${workspace}'`);
}

describe('files (local storage)', { timeout: 60000 }, () => {
  let kiln;
  let c;
  let o;
  let blobs;
  before(async () => {
    blobs = mkdtempSync(path.join(os.tmpdir(), 'kiln-blobs-'));
    ({ kiln, c, owner: o } = await launchWithAccount({ env: { KILN_STORAGE_LOCAL_ROOT: blobs } }));
  });
  after(async () => {
    if (kiln) assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM');
    rmSync(blobs, { recursive: true, force: true });
  });

  it('stores a binary upload and serves it back byte for byte, with ranges', async () => {
    const bytes = randomBytes(300000);
    const res = await upload(kiln, o.token, bytes, { filename: '../../etc/report.bin' });
    assert.equal(res.status, 201, res.text);
    const f = res.body;
    assert.equal(res.headers.get('location'), `/api/v1/files/${f.id}`);
    assert.equal(f.name, 'report.bin', 'directories are dropped from the name');
    assert.equal(f.size, bytes.length);
    assert.equal(f.sha256, sha256(bytes));
    assert.equal(f.content_type, 'application/octet-stream');
    assert.equal(f.declared_type, 'application/octet-stream');
    assert.equal(f.created_by, o.user.id);

    const got = await fetch(`${kiln.url}/api/v1/files/${f.id}/content`, { headers: { authorization: `Bearer ${o.token}` } });
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-length'), String(bytes.length));
    assert.equal(got.headers.get('x-content-type-options'), 'nosniff');
    assert.match(got.headers.get('content-disposition'), /^attachment; filename="report.bin"/);
    assert.equal(got.headers.get('accept-ranges'), 'bytes');
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(bytes), 'the same bytes');

    const ranged = async (range) => {
      const r = await fetch(`${kiln.url}/api/v1/files/${f.id}/content`,
        { headers: { authorization: `Bearer ${o.token}`, range } });
      return { status: r.status, headers: r.headers, body: Buffer.from(await r.arrayBuffer()) };
    };
    let r = await ranged('bytes=1000-1999');
    assert.equal(r.status, 206);
    assert.equal(r.headers.get('content-range'), `bytes 1000-1999/${bytes.length}`);
    assert.ok(r.body.equals(bytes.subarray(1000, 2000)));
    r = await ranged('bytes=-10');
    assert.equal(r.status, 206);
    assert.ok(r.body.equals(bytes.subarray(bytes.length - 10)));
    r = await ranged(`bytes=${bytes.length - 5}-`);
    assert.ok(r.body.equals(bytes.subarray(bytes.length - 5)));
    r = await ranged(`bytes=${bytes.length}-`);
    assert.equal(r.status, 416);
    assert.equal(r.headers.get('content-range'), `bytes */${bytes.length}`);
    r = await ranged('bytes=0-1,5-6');
    assert.equal(r.status, 200, 'several ranges: the whole file');
    assert.equal(r.body.length, bytes.length);
  });

  it('types a file by its bytes, not by what the client declared', async () => {
    const res = await upload(kiln, o.token, PNG, { filename: 'notes.txt', type: 'text/plain', name: 'pixel.png' });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.content_type, 'image/png');
    assert.equal(res.body.declared_type, 'text/plain');
    assert.equal(res.body.name, 'pixel.png', 'the name field wins over the filename');
    const got = await fetch(`${kiln.url}/api/v1/files/${res.body.id}/content`, { headers: { authorization: `Bearer ${o.token}` } });
    assert.equal(got.headers.get('content-type'), 'image/png');
    await got.arrayBuffer();
    const images = await o.as.get('/files?content_type=image/');
    assert.equal(images.status, 200, images.text);
    assert.deepEqual(images.body.items.map((f) => f.id), [res.body.id]);
    const byName = await o.as.get('/files?name=PIXEL');
    assert.deepEqual(byName.body.items.map((f) => f.id), [res.body.id]);
  });

  it('serves an empty file, and answers a problem when a blob is missing', async () => {
    const res = await upload(kiln, o.token, Buffer.alloc(0), { filename: 'empty' });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.size, 0);
    assert.equal(res.body.sha256, sha256(Buffer.alloc(0)));
    const url = `${kiln.url}/api/v1/files/${res.body.id}/content`;
    const got = await fetch(url, { headers: { authorization: `Bearer ${o.token}` } });
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-length'), '0');
    assert.equal((await got.arrayBuffer()).byteLength, 0);
    assert.equal((await o.as.delete(`/files/${res.body.id}`)).status, 204);

    // The bytes gone from under kiln: a problem before any byte, not a cut-off body.
    const some = await upload(kiln, o.token, Buffer.from('some bytes'));
    rmSync(path.join(blobs, 'ws', o.workspace.id, 'files', some.body.id));
    const lost = await fetch(`${kiln.url}/api/v1/files/${some.body.id}/content`,
      { headers: { authorization: `Bearer ${o.token}` } });
    assert.equal(lost.status, 500);
    assert.match(lost.headers.get('content-type'), /^application\/problem\+json/);
    await lost.arrayBuffer();
    assert.equal((await o.as.delete(`/files/${some.body.id}`)).status, 204, 'still deletable');
  });

  it('refuses bodies that are not a form with a file', async () => {
    assertProblem(await send(kiln, o.token, 'x', { 'content-type': 'text/plain' }), 415);
    const form = new FormData();
    form.append('name', 'no file');
    assertInvalid(await send(kiln, o.token, form), ['file']);
    const broken = await send(kiln, o.token, '--zz\r\nContent-Disposition: form-data; name="file"\r\n\r\nno end',
      { 'content-type': 'multipart/form-data; boundary=zz' });
    assert.match(assertProblem(broken, 400).detail, /closing boundary/);
    const files = await o.as.get('/files');
    assert.equal(files.body.items.length, 2, 'failed uploads left no file');
  });

  it('pages the list newest first', async () => {
    const first = await o.as.get('/files?limit=1');
    assert.equal(first.body.items.length, 1);
    assert.ok(first.body.next_cursor);
    const second = await o.as.get(`/files?limit=1&cursor=${first.body.next_cursor}`);
    assert.equal(second.body.items.length, 1);
    assert.ok(second.body.items[0].id < first.body.items[0].id);
    assertInvalid(await o.as.get('/files?limit=0'), ['limit']);
  });

  it("keeps another workspace's files out of reach (404)", async () => {
    const other = await signUp(c);
    const mine = (await o.as.get('/files')).body.items[0];
    assertProblem(await other.as.get(`/files/${mine.id}`), 404);
    assertProblem(await other.as.get(`/files/${mine.id}/content`), 404);
    assertProblem(await other.as.delete(`/files/${mine.id}`), 404);
    assertProblem(await other.as.get(`/workspaces/${o.workspace.id}/usage`), 404);
    assert.deepEqual((await other.as.get('/files')).body.items, []);
    assertProblem(await o.as.get('/files/not-a-uuid'), 404);
  });

  it('enforces the plan: file size while streaming, the storage quota atomically, and usage adds up', async (t) => {
    const u = await signUp(c);
    usePlan(kiln, u.workspace.id, { storage: 250000, maxFile: 100000 });
    const usage = async () => {
      const res = await u.as.get(`/workspaces/${u.workspace.id}/usage`);
      assert.equal(res.status, 200, res.text);
      return res.body;
    };
    assert.deepEqual(await usage(), { bytes_stored: 0, files: 0, bytes_reserved: 0, plan: (await usage()).plan, storage_bytes: 250000,
      max_file_bytes: 100000 });

    // Over the file size by the declared length: refused before the body is read.
    let res = await upload(kiln, u.token, randomBytes(200000));
    assert.equal(assertProblem(res, 413).limit, 'max_file_bytes');
    // Within the length the form may take, but the file itself too large: found while streaming.
    res = await upload(kiln, u.token, randomBytes(100001));
    assert.equal(assertProblem(res, 413).limit, 'max_file_bytes');
    // Chunked: no length to judge by; the stream stops at the limit.
    res = await chunkedUpload(kiln, u.token, randomBytes(150000));
    t.diagnostic(`chunked over the limit: ${res.status || res.error}`);
    if (res.status !== 0) assert.equal(assertProblem(res, 413).limit, 'max_file_bytes');
    const small = randomBytes(1000);
    res = await chunkedUpload(kiln, u.token, small);
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.sha256, sha256(small));

    res = await upload(kiln, u.token, randomBytes(100000));
    assert.equal(res.status, 201, res.text);
    // 101,000 stored of 250,000: two more of 90,000 do not both fit. Sent at once, exactly one wins.
    const both = await Promise.all([upload(kiln, u.token, randomBytes(90000)), upload(kiln, u.token, randomBytes(90000))]);
    assert.deepEqual(both.map((r) => r.status).sort(), [201, 402], both.map((r) => r.text).join('\n'));
    const refused = both.find((r) => r.status === 402);
    assert.equal(assertProblem(refused, 402).limit, 'storage_bytes');
    assert.deepEqual(await usage(), { ...(await usage()), bytes_stored: 191000, files: 3 });

    const files = (await u.as.get('/files')).body.items;
    assert.equal(files.length, 3);
    assert.equal(files.reduce((n, f) => n + f.size, 0), 191000);
    const blobsNow = psql(kiln.database, `SELECT count(*) FROM files WHERE workspace_id = '${u.workspace.id}'`);
    assert.equal(blobsNow, '3', 'refused uploads left no row behind');

    // Deleting gives the bytes back; the file is then gone.
    const gone = files[0];
    assert.equal((await u.as.delete(`/files/${gone.id}`)).status, 204);
    assertProblem(await u.as.get(`/files/${gone.id}`), 404);
    assertProblem(await u.as.get(`/files/${gone.id}/content`), 404);
    assertProblem(await u.as.delete(`/files/${gone.id}`), 404);
    assert.deepEqual(await usage(), { ...(await usage()), bytes_stored: 191000 - gone.size, files: 2 });
    const audit = await u.as.get('/audit-events?action=file.delete');
    assert.equal(audit.status, 200, audit.text);
    assert.equal(audit.body.items[0].target_id, gone.id);
  });
});

describe('files (S3 storage)', { timeout: 60000 }, () => {
  const endpoint = process.env.KILN_TEST_S3_ENDPOINT;
  let kiln;
  let o;
  before(async () => {
    if (!endpoint) return;
    const bucket = `kiln-files-${randomBytes(4).toString('hex')}`;
    const made = await fetch(`${endpoint}/${bucket}`, { method: 'PUT' });
    assert.equal(made.status, 200, await made.text());
    ({ kiln, owner: o } = await launchWithAccount({
      env: {
        KILN_STORAGE_BACKEND: 's3',
        KILN_STORAGE_S3_ENDPOINT: endpoint,
        KILN_STORAGE_S3_BUCKET: bucket,
        KILN_STORAGE_S3_ACCESS_KEY_ID: 'S3RVER',
        KILN_STORAGE_S3_SECRET_ACCESS_KEY: 'S3RVER',
      },
    }));
  });
  after(async () => {
    if (kiln) assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM');
  });

  it('refuses to start without the secret key, naming the setting', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-s3-'));
    try {
      const run = spawnSync(kilnBin(), ['serve', '--port', '0'], {
        cwd: dir, // no ./kiln.toml picked up
        encoding: 'utf8',
        timeout: 20000,
        env: {
          ...process.env,
          KILN_AUTH_JWT_KEY: randomBytes(32).toString('base64url'),
          KILN_STORAGE_BACKEND: 's3',
          KILN_STORAGE_S3_ENDPOINT: 'http://127.0.0.1:9',
          KILN_STORAGE_S3_BUCKET: 'b',
          KILN_STORAGE_S3_ACCESS_KEY_ID: 'key',
        },
      });
      assert.equal(run.status, 2, run.stderr);
      assert.match(run.stderr, /storage\.s3_secret_access_key/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('uploads to the bucket and redirects downloads to a presigned URL', async (t) => {
    if (!endpoint) {
      assert.ok(process.env.CI !== 'true', 'KILN_TEST_S3_ENDPOINT is required under CI');
      t.skip('KILN_TEST_S3_ENDPOINT not set');
      return;
    }
    const bytes = randomBytes(200000);
    const res = await upload(kiln, o.token, bytes);
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.sha256, sha256(bytes));
    const got = await fetch(`${kiln.url}/api/v1/files/${res.body.id}/content`,
      { headers: { authorization: `Bearer ${o.token}` }, redirect: 'manual' });
    assert.equal(got.status, 302);
    const location = got.headers.get('location');
    assert.ok(location.startsWith(`${endpoint}/`), location);
    assert.match(location, /X-Amz-Signature=/);
    const fetched = await fetch(location); // no credentials: the URL is the permission
    assert.equal(fetched.status, 200);
    assert.ok(Buffer.from(await fetched.arrayBuffer()).equals(bytes), 'the same bytes from the bucket');
    assert.equal((await o.as.delete(`/files/${res.body.id}`)).status, 204);
    const after = await fetch(location);
    assert.equal(after.status, 404, 'the object is gone from the bucket');
    await after.arrayBuffer();
  });
});
