// When the claim loop runs: an idle worker claims once per job it is told about (its own
// enqueue's wake-up and the NOTIFY may cost one empty claim between them), not again after each
// job ends; yet a slot freeing under a plan's or a kind's concurrency cap still starts the next
// job at once. The polling fallback is set to a minute, so nothing here is rescued by a poll.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, launchKiln } from './lib/kiln.mjs';
import { apiClient } from './lib/api.mjs';

describe('claims', { timeout: 120000 }, () => {
  let kiln;
  let a;
  before(async () => {
    kiln = await launchKiln({
      env: {
        KILN_AUTH_REGISTRATIONS_PER_IP_HOUR: '1000',
        KILN_JOBS_DIAGNOSTIC_KINDS: 'true',
        KILN_JOBS_POLL_INTERVAL_MS: '60000',
      },
    });
    const c = apiClient(kiln);
    const account = await c.register();
    a = c.authed((await c.login(account)).access);
  });
  after(async () => { if (kiln) assert.equal(await kiln.close(), 0); });

  const claims = async () => {
    const text = await (await fetch(`${kiln.url}/metrics`)).text();
    const read = (result) => Number(text.match(new RegExp(`^kiln_job_claims_total\\{result="${result}"\\} (\\d+)$`, 'm'))[1]);
    return { found: read('found'), empty: read('empty') };
  };
  const succeeded = (id) => eventually(async () => (await a.get(`/jobs/${id}`)).body.state === 'succeeded',
    { what: `job ${id} to succeed`, timeoutMs: 20000, intervalMs: 5 });

  it('an idle worker does not follow each job with empty claims', async () => {
    const warmup = (await a.post('/jobs', { kind: 'system.noop' })).body;
    await succeeded(warmup.id);
    const before = await claims();
    const n = 10;
    for (let i = 0; i < n; i++) {
      const job = (await a.post('/jobs', { kind: 'system.noop' })).body;
      await succeeded(job.id);
    }
    const now = await claims();
    assert.equal(now.found - before.found, n, 'one claim found each job');
    // Per job: the local wake-up and the NOTIFY (one of them may find nothing); +1 for the
    // warm-up job's NOTIFY, which may land after the first reading.
    assert.ok(now.empty - before.empty <= n + 1,
      `${now.empty - before.empty} empty claims for ${n} jobs (a claim after every job's end would make ~${2 * n})`);
  });

  it('a slot freed under the plan\'s cap starts the next job without waiting for a poll', async () => {
    // The free plan runs 2 jobs of a workspace at once: the other 4 start as slots free.
    const jobs = [];
    for (let i = 0; i < 6; i++) jobs.push((await a.post('/jobs', { kind: 'system.sleep', args: { ms: 100 } })).body);
    for (const job of jobs) await succeeded(job.id);
  });

  it('a slot freed under a kind\'s cap starts the next job without waiting for a poll', async () => {
    // system.capped runs at most 2 at once across the cluster.
    const jobs = [];
    for (let i = 0; i < 6; i++) jobs.push((await a.post('/jobs', { kind: 'system.capped', args: { ms: 100 } })).body);
    for (const job of jobs) await succeeded(job.id);
  });
});
