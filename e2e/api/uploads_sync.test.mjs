// The Data Uploader's sync against the real binary and s3rver: a session over a server directory
// is started, its progress followed over SSE to the end, every object compared byte for byte
// with its file; a re-run sends nothing and an edited file alone is sent again; a transfer that
// keeps failing is retried, reported, then copied by retry-failed; a cancel leaves the rest
// pending for a retry; refused entries are reported; another workspace can neither see nor start
// a session; the seed's /uploads/start and /uploads/status/{job_id}.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { assertInvalid, assertProblem, hex, launchWithAccount, signUp } from './lib/api.mjs';
import { eventually } from './lib/kiln.mjs';
import { sse } from './lib/sse.mjs';

const s3Endpoint = process.env.KILN_TEST_S3_ENDPOINT;
const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

// Writes `files` ({relative: bytes}) under `dir`.
function writeTree(dir, files) {
  for (const [rel, bytes] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), bytes);
  }
}

async function objectBytes(key) {
  const res = await fetch(`${s3Endpoint}/kiln-test/${key.split('/').map(encodeURIComponent).join('/')}`);
  assert.equal(res.status, 200, `object ${key}`);
  return Buffer.from(await res.arrayBuffer());
}

describe('uploads sync', { timeout: 180000, skip: s3Endpoint ? false : 'KILN_TEST_S3_ENDPOINT is not set' }, () => {
  let kiln;
  let c;
  let o;
  const base = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'kiln-sync-e2e-')));
  const root = path.join(base, 'root');
  const blobs = path.join(base, 'blobs');

  before(async () => {
    if (process.env.CI === 'true') assert.ok(s3Endpoint, 'scripts/test starts s3rver');
    mkdirSync(root, { recursive: true });
    ({ kiln, c, owner: o } = await launchWithAccount({
      env: { KILN_UPLOADS_IMPORT_ROOTS: root, KILN_STORAGE_CONNECTION_HOSTS: '127.0.0.1', KILN_STORAGE_LOCAL_ROOT: blobs },
    }));
  });
  after(async () => {
    rmSync(base, { recursive: true, force: true });
    if (kiln) assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM');
  });

  // A project on s3rver (its bucket `bucket`), a cycle, and what their keys start with.
  const destination = async (as, { bucket = '', endpoint = s3Endpoint } = {}) => {
    const conn = await as.post('/storage-connections', { name: `s3rver ${hex(4)}`, endpoint,
      bucket: 'kiln-test', access_key_id: 'S3RVER', secret_access_key: `secret-${hex(8)}` });
    assert.equal(conn.status, 201, conn.text);
    const tag = hex(6);
    const project = await as.post('/projects', { name: `Sync ${tag}`, storage_connection_id: conn.body.id,
      bucket, base_prefix: `e2e-${tag}/` });
    assert.equal(project.status, 201, project.text);
    const cycle = await as.post('/cycles', { project_id: project.body.id, cycle_name: 'Cycle 1', cycle_number: 1,
      s3_prefix: 'cycle-1/' });
    assert.equal(cycle.status, 201, cycle.text);
    return { project: project.body, cycle: cycle.body, prefix: `e2e-${tag}/cycle-1/` };
  };
  const newSession = async (as, cycle, dir, extra = {}) => {
    const res = await as.post('/sync-sessions', { cycle_id: cycle.id, local_directory: dir, ...extra });
    assert.equal(res.status, 201, res.text);
    return res.body;
  };
  const ended = (s) => !['pending', 'in_progress'].includes(s.state);
  const waitEnd = (as, id) => eventually(async () => {
    const s = (await as.get(`/sync-sessions/${id}`)).body;
    return ended(s) ? s : null;
  }, { what: `sync session ${id} to end`, timeoutMs: 60000, intervalMs: 50 });
  const filesOf = async (as, id) => (await as.get(`/sync-sessions/${id}/files?limit=200`)).body.items;

  it('lists a new prefix once and sends each new file in one request; a re-run only looks', async () => {
    // A proxy in front of s3rver records what kiln asks (the signature covers the Host header,
    // which goes through unchanged).
    const seen = [];
    const upstream = new URL(s3Endpoint);
    const proxy = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const up = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url,
        headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      });
      up.on('error', (e) => res.destroy(e));
      req.pipe(up);
    });
    await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const dir = path.join(root, `listed-${hex(4)}`);
      const files = {};
      for (let i = 0; i < 12; ++i) files[`d${i % 2}/f${i}.bin`] = randomBytes(2000 + i * 311);
      writeTree(dir, files);
      const { cycle, prefix } = await destination(o.as, { endpoint: `http://127.0.0.1:${proxy.address().port}` });
      const count = (what) => seen.filter((line) => line.startsWith(what)).length;
      const listings = () => seen.filter((line) => line.includes('max-keys=')).length;

      const first = await newSession(o.as, cycle, dir, { max_workers: 3 });
      assert.equal((await o.as.post(`/sync-sessions/${first.id}/start`)).status, 202);
      const done = await waitEnd(o.as, first.id);
      assert.deepEqual([done.state, done.files_done, done.files_skipped], ['completed', 12, 0]);
      assert.equal(listings(), 1, seen.join('\n'));
      assert.equal(count(`HEAD /kiln-test/${prefix}`), 0, 'no key looked up: the listing had none');
      assert.equal(count(`PUT /kiln-test/${prefix}`), 12, 'one PUT per file, nothing read back');
      for (const [rel, bytes] of Object.entries(files)) assert.deepEqual(await objectBytes(prefix + rel), bytes, rel);

      const again = await newSession(o.as, cycle, dir, { max_workers: 3 });
      assert.equal((await o.as.post(`/sync-sessions/${again.id}/start`)).status, 202);
      const rerun = await waitEnd(o.as, again.id);
      assert.deepEqual([rerun.state, rerun.files_done, rerun.files_skipped], ['completed', 0, 12]);
      assert.equal(listings(), 2);
      assert.equal(count(`HEAD /kiln-test/${prefix}`), 12, 'each listed key looked up for its SHA-256');
      assert.equal(count(`PUT /kiln-test/${prefix}`), 12, 'nothing sent again');
    } finally {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('copies a tree into the server\'s own store: every blob in place once recorded, a re-run skips', async () => {
    const dir = path.join(root, `local-${hex(4)}`);
    const files = {};
    for (let i = 0; i < 40; ++i) files[`d${i % 4}/f${i}.bin`] = randomBytes(500 + i * 701);
    files['big.bin'] = randomBytes(3 << 20);
    writeTree(dir, files);
    const project = await o.as.post('/projects', { name: `Local ${hex(6)}` });
    assert.equal(project.status, 201, project.text);
    const cycle = await o.as.post('/cycles', { project_id: project.body.id, cycle_name: 'C', cycle_number: 1,
      s3_prefix: 'c1/' });
    assert.equal(cycle.status, 201, cycle.text);
    const first = await newSession(o.as, cycle.body, dir, { max_workers: 3 });
    assert.equal((await o.as.post(`/sync-sessions/${first.id}/start`)).status, 202);
    const done = await waitEnd(o.as, first.id);
    assert.deepEqual([done.state, done.files_done, done.files_failed], ['completed', 41, 0]);
    for (const f of await filesOf(o.as, first.id)) {
      assert.equal(f.status, 'uploaded');
      assert.match(f.object_key, new RegExp(`^ws/[0-9a-f-]{36}/uploads/${project.body.id}/c1/`));
      assert.ok(f.object_key.endsWith(f.relative_path));
      assert.deepEqual(readFileSync(path.join(blobs, f.object_key)), files[f.relative_path], f.relative_path);
      assert.equal(f.sha256, sha256(files[f.relative_path]));
    }
    const leftovers = execFileSync('find', [blobs, '-name', '.kiln-tmp-*']).toString();
    assert.equal(leftovers, '', 'no temporary file left behind');

    const again = await newSession(o.as, cycle.body, dir, { max_workers: 2 });
    assert.equal((await o.as.post(`/sync-sessions/${again.id}/start`)).status, 202);
    const rerun = await waitEnd(o.as, again.id);
    assert.deepEqual([rerun.state, rerun.files_done, rerun.files_skipped], ['completed', 0, 41]);
  });

  it('reports how far a large file is sent before it ends', async () => {
    // The proxy passes the PUT's first MiB to s3rver, then reads no more of it until released:
    // kiln is then mid-file for as long as the test needs to see its progress.
    const upstream = new URL(s3Endpoint);
    let release;
    let puts = 0;
    const released = new Promise((resolve) => { release = resolve; });
    const proxy = http.createServer((req, res) => {
      const up = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url,
        headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      });
      up.on('error', (e) => res.destroy(e));
      if (req.method !== 'PUT') return void req.pipe(up);
      puts += 1;
      let passed = 0;
      req.on('data', (chunk) => {
        up.write(chunk);
        passed += chunk.length;
        if (passed >= 1 << 20 && passed - chunk.length < 1 << 20) {
          req.pause();
          released.then(() => req.resume());
        }
      });
      req.on('end', () => up.end());
    });
    await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const stream = sse(`${kiln.url}/api/v1/events`, { authorization: `Bearer ${o.token}` });
    try {
      const dir = path.join(root, `large-${hex(4)}`);
      const big = randomBytes(24 << 20);
      writeTree(dir, { 'big.bin': big });
      const { cycle, prefix } = await destination(o.as, { endpoint: `http://127.0.0.1:${proxy.address().port}` });
      const session = await newSession(o.as, cycle, dir, { max_workers: 1 });
      await stream.opened();
      assert.equal((await o.as.post(`/sync-sessions/${session.id}/start`)).status, 202);
      const progress = () => stream.events.filter((e) => e.event === 'sync.progress' && e.data.session_id === session.id)
        .map((e) => e.data);
      await stream.until(() => progress().some((d) => d.bytes_sending > 0), 'a progress event inside the file');
      const mid = progress().find((d) => d.bytes_sending > 0);
      assert.equal(mid.files_done, 0, JSON.stringify(mid));
      assert.ok(mid.bytes_sending >= 1 << 20 && mid.bytes_sending < big.length, JSON.stringify(mid));
      assert.ok(mid.bytes_per_second > 0 && mid.eta_s > 0, JSON.stringify(mid));
      const [row] = await filesOf(o.as, session.id);
      assert.equal(row.status, 'pending', JSON.stringify(row));
      assert.ok(row.bytes_sent >= 1 << 20 && row.bytes_sent < big.length, JSON.stringify(row));

      release();
      await stream.until(() => progress().some((d) => d.state === 'completed'), 'the completed progress event');
      const last = progress().at(-1);
      assert.deepEqual([last.files_done, last.bytes_done, last.bytes_sending], [1, big.length, 0]);
      const [sent] = await filesOf(o.as, session.id);
      assert.deepEqual([sent.status, sent.bytes_sent, sent.sha256], ['uploaded', 0, sha256(big)]);
      assert.deepEqual(await objectBytes(`${prefix}big.bin`), big);
      assert.equal(puts, 1);

      // Sent once, unsigned and without the SHA-256 metadata (it was not read before the PUT): a
      // re-run knows it by the ETag kiln recorded with its SHA-256, and sends nothing.
      const head = await fetch(`${s3Endpoint}/kiln-test/${prefix}big.bin`, { method: 'HEAD' });
      assert.equal(head.headers.get('x-amz-meta-sha256'), null);
      const again = await newSession(o.as, cycle, dir, { max_workers: 1 });
      assert.equal((await o.as.post(`/sync-sessions/${again.id}/start`)).status, 202);
      const rerun = await waitEnd(o.as, again.id);
      assert.deepEqual([rerun.state, rerun.files_done, rerun.files_skipped], ['completed', 0, 1]);
      const [skipped] = await filesOf(o.as, again.id);
      assert.equal(skipped.sha256, sha256(big));
      assert.equal(puts, 1, 'nothing sent again');
    } finally {
      release();
      await stream.close();
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('copies a directory, streams progress, and a re-run sends only what changed', async () => {
    const dir = path.join(root, `tree-${hex(4)}`);
    const files = {};
    for (let i = 0; i < 24; ++i) files[`d${i % 3}/sub/f${i}.bin`] = randomBytes(1000 + i * 997);
    files['top.txt'] = Buffer.from('top level\n');
    files['with space & ü.txt'] = Buffer.from('odd name\n');
    writeTree(dir, files);
    const total = Object.values(files).reduce((n, b) => n + b.length, 0);
    const { cycle, prefix } = await destination(o.as);
    const session = await newSession(o.as, cycle, dir, { max_workers: 3, times_to_retry: 1 });

    const stream = sse(`${kiln.url}/api/v1/events`, { authorization: `Bearer ${o.token}` });
    await stream.opened();
    const started = await o.as.post(`/sync-sessions/${session.id}/start`);
    assert.equal(started.status, 202, started.text);
    assert.equal(started.body.state, 'in_progress');
    assert.match(started.body.job_id, /^[0-9a-f-]{36}$/);
    assertProblem(await o.as.post(`/sync-sessions/${session.id}/start`), 409);
    assertProblem(await o.as.delete(`/sync-sessions/${session.id}`), 409);
    const jobId = started.body.job_id;

    const progress = () => stream.events.filter((e) => e.event === 'sync.progress' && e.data.session_id === session.id);
    await stream.until(() => progress().some((e) => e.data.state === 'completed'), 'the completed progress event');
    await stream.close();
    const seen = progress().map((e) => e.data);
    assert.ok(seen.every((d) => d.job_id === jobId && d.files_total === 26 && d.bytes_total === total), JSON.stringify(seen));
    for (let i = 1; i < seen.length; ++i) assert.ok(seen[i].files_done >= seen[i - 1].files_done, 'counts only grow');
    const last = seen.at(-1);
    assert.equal(last.files_done, 26);
    assert.equal(last.bytes_done, total);
    assert.ok(last.bytes_per_second > 0);
    assert.equal(last.eta_s, null, 'no ETA once ended');

    const done = (await o.as.get(`/sync-sessions/${session.id}`)).body;
    assert.deepEqual([done.state, done.files_total, done.files_done, done.files_skipped, done.files_failed,
      done.bytes_total, done.bytes_done], ['completed', 26, 26, 0, 0, total, total]);
    assert.ok(done.finished_at >= done.started_at);
    const rows = await filesOf(o.as, session.id);
    assert.equal(rows.length, 26);
    for (const f of rows) {
      assert.equal(f.status, 'uploaded', JSON.stringify(f));
      assert.equal(f.object_key, prefix + f.relative_path);
      assert.equal(f.sha256, sha256(files[f.relative_path]));
      assert.equal(f.attempts, 1);
      assert.deepEqual(await objectBytes(f.object_key), files[f.relative_path], f.relative_path);
    }
    const status = await o.as.get(`/uploads/status/${jobId}`);
    assert.equal(status.status, 200, status.text);
    assert.deepEqual([status.body.session_id, status.body.status, status.body.progress, status.body.files_done],
      [session.id, 'completed', 100, 26]);
    const job = (await o.as.get(`/jobs/${jobId}`)).body;
    assert.equal(job.state, 'succeeded');
    assert.equal(job.kind, 'uploads.sync');

    // Again, through the seed's route: everything is skipped.
    const again = await newSession(o.as, cycle, dir, { max_workers: 2 });
    const seedStart = await o.as.post('/uploads/start', { session_id: again.id });
    assert.equal(seedStart.status, 202, seedStart.text);
    assert.equal(seedStart.body.session_id, again.id);
    assert.equal(seedStart.body.status, 'in_progress');
    const rerun = await waitEnd(o.as, again.id);
    assert.deepEqual([rerun.state, rerun.files_done, rerun.files_skipped, rerun.bytes_done], ['completed', 0, 26, total]);
    assert.ok((await filesOf(o.as, again.id)).every((f) => f.status === 'skipped'));

    // A same-size edit is sent again, alone.
    files['d1/sub/f4.bin'] = randomBytes(files['d1/sub/f4.bin'].length);
    writeTree(dir, { 'd1/sub/f4.bin': files['d1/sub/f4.bin'] });
    const third = await newSession(o.as, cycle, dir);
    assert.equal((await o.as.post(`/sync-sessions/${third.id}/start`)).status, 202);
    const edited = await waitEnd(o.as, third.id);
    assert.deepEqual([edited.state, edited.files_done, edited.files_skipped], ['completed', 1, 25]);
    assert.deepEqual(await objectBytes(`${prefix}d1/sub/f4.bin`), files['d1/sub/f4.bin']);
  });

  it('retries a failing transfer, reports it, and retry-failed copies it once fixed', async () => {
    const dir = path.join(root, `fail-${hex(4)}`);
    const files = { 'a.txt': Buffer.from('a'), 'b/b.txt': Buffer.from('bb'), 'c.txt': Buffer.from('ccc') };
    writeTree(dir, files);
    // s3rver answers NoSuchBucket to every put: each file fails 1 + times_to_retry times.
    const { project, cycle, prefix } = await destination(o.as, { bucket: `missing-${hex(4)}` });
    const session = await newSession(o.as, cycle, dir, { max_workers: 2, times_to_retry: 1 });
    assert.equal((await o.as.post(`/sync-sessions/${session.id}/start`)).status, 202);
    const failed = await waitEnd(o.as, session.id);
    assert.deepEqual([failed.state, failed.files_failed, failed.files_done], ['completed_with_errors', 3, 0]);
    for (const f of await filesOf(o.as, session.id)) {
      assert.equal(f.status, 'failed');
      assert.equal(f.attempts, 2, 'the first try and one retry');
      assert.match(f.error, /NoSuchBucket|404|bucket/i);
    }
    assertProblem(await o.as.post(`/sync-sessions/${session.id}/start`), 409);

    assert.equal((await o.as.patch(`/projects/${project.id}`, { bucket: 'kiln-test' })).status, 200);
    const retried = await o.as.post(`/sync-sessions/${session.id}/retry-failed`);
    assert.equal(retried.status, 202, retried.text);
    assert.notEqual(retried.body.job_id, failed.job_id, 'a new sync job');
    const fixed = await waitEnd(o.as, session.id);
    assert.deepEqual([fixed.state, fixed.files_failed, fixed.files_done], ['completed', 0, 3]);
    for (const f of await filesOf(o.as, session.id)) {
      assert.equal(f.status, 'uploaded');
      assert.equal(f.attempts, 3);
      assert.deepEqual(await objectBytes(prefix + f.relative_path), files[f.relative_path]);
    }
    assertProblem(await o.as.post(`/sync-sessions/${session.id}/retry-failed`), 409);
  });

  it('reports what the scan refuses: a fifo and a symlink leaving the root', async () => {
    const dir = path.join(root, `odd-${hex(4)}`);
    writeTree(dir, { 'ok.txt': Buffer.from('fine') });
    execFileSync('mkfifo', [path.join(dir, 'pipe')]);
    const outside = path.join(base, `outside-${hex(4)}.txt`);
    writeFileSync(outside, 'secret');
    symlinkSync(outside, path.join(dir, 'leak.txt'));
    const { cycle } = await destination(o.as);
    const session = await newSession(o.as, cycle, dir);
    assert.equal((await o.as.post(`/sync-sessions/${session.id}/start`)).status, 202);
    const s = await waitEnd(o.as, session.id);
    assert.deepEqual([s.state, s.files_total, s.files_done, s.files_failed], ['completed_with_errors', 3, 1, 2]);
    const byPath = Object.fromEntries((await filesOf(o.as, session.id)).map((f) => [f.relative_path, f]));
    assert.match(byPath.pipe.error, /fifo/);
    assert.match(byPath['leak.txt'].error, /leaves the root/);
    assert.equal(byPath['ok.txt'].status, 'uploaded');
  });

  it('cancels a running sync; what was not copied stays pending and a retry finishes it', async () => {
    const dir = path.join(root, `many-${hex(4)}`);
    const files = {};
    for (let i = 0; i < 300; ++i) files[`f${String(i).padStart(3, '0')}.txt`] = Buffer.from(`file ${i} ${hex(8)}\n`);
    writeTree(dir, files);
    const { cycle } = await destination(o.as);
    const session = await newSession(o.as, cycle, dir, { max_workers: 1 });
    const started = await o.as.post(`/sync-sessions/${session.id}/start`);
    assert.equal(started.status, 202);
    await eventually(async () => (await o.as.get(`/sync-sessions/${session.id}`)).body.files_done > 0,
      { what: 'a first file copied', intervalMs: 10 });
    const cancelled = await o.as.post(`/sync-sessions/${session.id}/cancel`);
    assert.equal(cancelled.status, 200, cancelled.text);
    assert.equal(cancelled.body.state, 'cancelled');
    await eventually(async () => (await o.as.get(`/jobs/${started.body.job_id}`)).body.state === 'cancelled',
      { what: 'the sync job to end cancelled' });
    // The lane stops at its next file: once its job has ended the counters stay still.
    await eventually(async () => {
      const jobs = (await o.as.get(`/jobs?batch=${started.body.job_id}&limit=200`)).body.items;
      return jobs.every((j) => ['succeeded', 'cancelled', 'dead'].includes(j.state));
    }, { what: 'the lanes to end' });
    const after = (await o.as.get(`/sync-sessions/${session.id}`)).body;
    assert.equal(after.state, 'cancelled');
    assert.ok(after.files_done > 0 && after.files_done < 300, `${after.files_done} copied before the cancel`);
    const pending = (await filesOf(o.as, session.id)).filter((f) => f.status === 'pending').length;
    assertProblem(await o.as.post(`/sync-sessions/${session.id}/cancel`), 409);

    assert.equal((await o.as.post(`/sync-sessions/${session.id}/retry-failed`)).status, 202);
    const finished = await waitEnd(o.as, session.id);
    assert.equal(finished.state, 'completed');
    assert.equal(finished.files_done + finished.files_skipped, 300);
    assert.ok(finished.files_done >= after.files_done + pending - 1, 'the pending ones were copied by the retry');
  });

  it('syncs files uploaded through the API: multipart, and tus resumed from its offset', async () => {
    const auth = { authorization: `Bearer ${o.token}` };
    const multipartBytes = randomBytes(70_000);
    const form = new FormData();
    form.append('file', new Blob([multipartBytes]), 'photo.bin');
    const uploaded = await fetch(`${kiln.url}/api/v1/files`, { method: 'POST', headers: auth, body: form });
    assert.equal(uploaded.status, 201, await uploaded.clone().text());
    const multipartId = (await uploaded.json()).id;

    // tus: half, then (as a client that lost its connection would) ask the offset and send the rest.
    const tusBytes = randomBytes(50_001);
    const tus = { ...auth, 'Tus-Resumable': '1.0.0' };
    const created = await fetch(`${kiln.url}/api/v1/tus`, { method: 'POST', headers: { ...tus,
      'Upload-Length': String(tusBytes.length), 'Upload-Metadata': `filename ${Buffer.from('scan.tif').toString('base64')}` } });
    assert.equal(created.status, 201, await created.text());
    const at = `${kiln.url}${created.headers.get('location')}`;
    const patch = (offset, bytes) => fetch(at, { method: 'PATCH', headers: { ...tus,
      'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(offset) }, body: bytes });
    assert.equal((await patch(0, tusBytes.subarray(0, 20_000))).status, 204);
    const offset = Number((await fetch(at, { method: 'HEAD', headers: tus })).headers.get('upload-offset'));
    assert.equal(offset, 20_000);
    const last = await patch(offset, tusBytes.subarray(offset));
    assert.equal(last.status, 204, await last.text());
    const tusId = last.headers.get('kiln-file-id');
    assert.match(tusId ?? '', /^[0-9a-f-]{36}$/);

    const { cycle, prefix } = await destination(o.as);
    const session = (await o.as.post('/sync-sessions', { cycle_id: cycle.id })).body;
    const add = (body) => o.as.post(`/sync-sessions/${session.id}/files`, body);
    const first = await add({ file_id: multipartId, relative_path: 'photos/photo-1.bin' });
    assert.equal(first.status, 201, first.text);
    assert.deepEqual([first.body.file_id, first.body.status, first.body.size_bytes], [multipartId, 'pending', 70_000]);
    assert.equal((await add({ file_id: tusId })).body.relative_path, 'scan.tif', 'the file\'s name by default');
    assertProblem(await add({ file_id: multipartId, relative_path: 'photos/photo-1.bin' }), 409);
    assertInvalid(await add({ file_id: multipartId, relative_path: '../up.bin' }), ['relative_path']);
    assertInvalid(await add({ file_id: session.id }), ['file_id']);
    const dirSession = await newSession(o.as, cycle, root);
    assertProblem(await o.as.post(`/sync-sessions/${dirSession.id}/files`, { file_id: multipartId }), 409);

    assert.equal((await o.as.post(`/sync-sessions/${session.id}/start`)).status, 202);
    const s = await waitEnd(o.as, session.id);
    assert.deepEqual([s.state, s.files_total, s.files_done, s.bytes_done], ['completed', 2, 2, 120_001]);
    assert.deepEqual(await objectBytes(`${prefix}photos/photo-1.bin`), multipartBytes);
    assert.deepEqual(await objectBytes(`${prefix}scan.tif`), tusBytes);
    for (const f of await filesOf(o.as, session.id)) assert.equal(f.object_key, prefix + f.relative_path);
    assertProblem(await add({ file_id: multipartId, relative_path: 'late.bin' }), 409);
  });

  it('keeps sessions to their workspace and roles', async () => {
    const dir = path.join(root, `own-${hex(4)}`);
    writeTree(dir, { 'x.txt': Buffer.from('x') });
    const { cycle } = await destination(o.as);
    const session = await newSession(o.as, cycle, dir);
    const stranger = await signUp(c);
    for (const route of ['start', 'retry-failed', 'cancel']) {
      assertProblem(await stranger.as.post(`/sync-sessions/${session.id}/${route}`), 404);
    }
    assertProblem(await stranger.as.post('/uploads/start', { session_id: session.id }), 404);
    assert.equal((await o.as.get(`/sync-sessions/${session.id}`)).body.state, 'pending', 'nothing started');
    const started = await o.as.post('/uploads/start', { session_id: session.id });
    assert.equal(started.status, 202);
    assertProblem(await stranger.as.get(`/uploads/status/${started.body.job_id}`), 404);
    assertProblem(await o.as.get(`/uploads/status/${session.id}`), 404);
    await waitEnd(o.as, session.id);

    // An inactive project's sessions do not start.
    const paused = await destination(o.as);
    const waiting = await newSession(o.as, paused.cycle, dir);
    assert.equal((await o.as.patch(`/projects/${paused.project.id}`, { is_active: false })).status, 200);
    assertProblem(await o.as.post(`/sync-sessions/${waiting.id}/start`), 409);
    assert.equal((await o.as.get(`/sync-sessions/${waiting.id}`)).body.state, 'pending');
  });
});
