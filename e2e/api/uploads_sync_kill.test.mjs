// A sync survives its workers dying: a session's lanes run on `kiln worker` processes, and twice
// the one running most of them is killed with SIGKILL mid-sync (a replacement started). Their
// leases expire, other workers take the lanes over, and the session completes with every file
// counted exactly once and every object in s3rver equal to its file.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hex, launchWithAccount } from './lib/api.mjs';
import { eventually } from './lib/kiln.mjs';
import { FAST, psql, startWorker } from './lib/workers.mjs';

const s3Endpoint = process.env.KILN_TEST_S3_ENDPOINT;
const FILES = 600;
const KILL_ROUNDS = 2;

describe('uploads sync under kill -9', { timeout: 180000, skip: s3Endpoint ? false : 'KILN_TEST_S3_ENDPOINT is not set' }, () => {
  let kiln;
  let o;
  const workers = [];
  const base = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'kiln-sync-kill-')));
  // What the server and its workers share: the roots they may read, s3rver, the key that opens
  // the connection's secret.
  const shared = {
    ...FAST,
    KILN_UPLOADS_IMPORT_ROOTS: base,
    KILN_STORAGE_CONNECTION_HOSTS: '127.0.0.1',
    KILN_STORAGE_MASTER_KEY: randomBytes(32).toString('base64'),
  };

  before(async () => {
    if (process.env.CI === 'true') assert.ok(s3Endpoint, 'scripts/test starts s3rver');
    ({ kiln, owner: o } = await launchWithAccount({ env: { ...shared, KILN_JOBS_WORKERS: '0' } }));
  });
  after(async () => {
    for (const w of workers) await w.kill();
    rmSync(base, { recursive: true, force: true });
    if (kiln) assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM');
  });

  const sql = (q) => psql(kiln.database, q);
  const rows = (q) => sql(q).split('\n').filter(Boolean).map((l) => l.split('|'));
  // The live worker holding the most running lanes now, with its id; null when none does.
  function busiest() {
    const running = rows(`SELECT w.pid, w.id, count(*) FROM jobs j JOIN workers w ON w.id = j.lease_owner
                           WHERE j.kind = 'uploads.transfer' AND j.state = 'running' GROUP BY w.pid, w.id
                           ORDER BY count(*) DESC`);
    for (const [pid, id, n] of running) {
      const w = workers.find((x) => x.pid === Number(pid) && x.alive());
      if (w) return { worker: w, id, lanes: Number(n) };
    }
    return null;
  }

  it('completes with every file exactly once after its workers are killed', async (t) => {
    const dir = path.join(base, 'tree');
    const files = {};
    for (let i = 0; i < FILES; ++i) {
      const rel = `part-${i % 6}/file-${String(i).padStart(4, '0')}.bin`;
      files[rel] = randomBytes(2000 + (i % 50) * 100);
      mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      writeFileSync(path.join(dir, rel), files[rel]);
    }
    for (let i = 0; i < 3; ++i) workers.push(startWorker(kiln.database, shared));

    const conn = await o.as.post('/storage-connections', { name: 'kill', endpoint: s3Endpoint, bucket: 'kiln-test',
      access_key_id: 'S3RVER', secret_access_key: `secret-${hex(8)}` });
    assert.equal(conn.status, 201, conn.text);
    const tag = hex(6);
    const project = await o.as.post('/projects', { name: `Kill ${tag}`, storage_connection_id: conn.body.id,
      base_prefix: `kill-${tag}` });
    const cycle = await o.as.post('/cycles', { project_id: project.body.id, cycle_name: 'c', cycle_number: 1 });
    const session = await o.as.post('/sync-sessions', { cycle_id: cycle.body.id, local_directory: dir,
      max_workers: 6, times_to_retry: 2 });
    assert.equal(session.status, 201, session.text);
    const id = session.body.id;
    const started = await o.as.post(`/sync-sessions/${id}/start`);
    assert.equal(started.status, 202, started.text);

    let killed = 0;
    for (let round = 0; round < KILL_ROUNDS;) {
      const victim = await eventually(() => {
        const b = busiest();
        const s = sql(`SELECT state, files_done FROM upload_sync_sessions WHERE id = '${id}'`).split('|');
        assert.equal(s[0], 'in_progress', `the sync ended before kill round ${round + 1}; make it longer`);
        return b && Number(s[1]) > 0 ? b : null;
      }, { what: `a worker running lanes (round ${round + 1})`, intervalMs: 10 });
      assert.equal(await victim.worker.kill('SIGKILL'), 'SIGKILL');
      killed += victim.lanes;
      workers.push(startWorker(kiln.database, shared));
      t.diagnostic(`round ${round + 1}: killed ${victim.id} running ${victim.lanes} lane(s)`);
      round += 1;
    }

    const done = await eventually(async () => {
      const s = (await o.as.get(`/sync-sessions/${id}`)).body;
      return ['pending', 'in_progress'].includes(s.state) ? null : s;
    }, { what: 'the session to end', timeoutMs: 90000, intervalMs: 100 });
    assert.equal(done.state, 'completed', JSON.stringify(done));
    assert.equal(done.files_total, FILES);
    assert.equal(done.files_failed, 0);
    assert.equal(done.files_done + done.files_skipped, FILES, 'each file counted once');
    const total = Object.values(files).reduce((n, b) => n + b.length, 0);
    assert.equal(done.bytes_done, total);

    const [[n, distinct, finished]] = rows(`SELECT count(*), count(DISTINCT relative_path),
        count(*) FILTER (WHERE status IN ('uploaded', 'skipped')) FROM upload_files WHERE session_id = '${id}'`);
    assert.deepEqual([Number(n), Number(distinct), Number(finished)], [FILES, FILES, FILES]);
    const rescued = Number(sql(`SELECT count(*) FROM jobs WHERE parent_id = '${started.body.job_id}'
                                 AND kind = 'uploads.transfer' AND attempt > 1`));
    assert.ok(rescued >= 1, 'killed lanes ran again on another worker');
    t.diagnostic(`${killed} lane(s) killed, ${rescued} ran again; ${done.files_skipped} file(s) found already stored`);

    const listing = [];
    const recorded = Object.fromEntries(rows(`SELECT relative_path, sha256 FROM upload_files WHERE session_id = '${id}'`));
    for (const [rel, bytes] of Object.entries(files)) {
      const key = `kill-${tag}/${rel}`;
      const res = await fetch(`${s3Endpoint}/kiln-test/${key}`);
      assert.equal(res.status, 200, key);
      const got = Buffer.from(await res.arrayBuffer());
      if (!got.equals(bytes)) listing.push(key);
      assert.equal(recorded[rel], createHash('sha256').update(bytes).digest('hex'), rel);
    }
    assert.deepEqual(listing, [], 'every object equals its file');
  });
});
