// `kiln worker` processes for the job engine's tests, and psql on a test database to look at
// what they left there. Every worker started here is killed when the test process exits.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { kilnBin } from './kiln.mjs';

// Diagnostic kinds on, and every job-engine delay short: a lost worker's lease expires in a
// second, a poll (due jobs, expired leases, the leader lock) every 200 ms.
export const FAST = {
  KILN_JOBS_DIAGNOSTIC_KINDS: 'true',
  KILN_JOBS_LEASE_MS: '1000',
  KILN_JOBS_HEARTBEAT_MS: '100',
  KILN_JOBS_POLL_INTERVAL_MS: '200',
  KILN_JOBS_RETRY_BASE_MS: '20',
};

const live = new Set();
process.on('exit', () => { for (const p of live) p.kill('SIGKILL'); });

// psql as the cluster superuser on one database (of the test cluster, or of another given its
// env); the output trimmed, rows on lines, columns split by '|'.
export function psql(database, sql, clusterEnv = process.env) {
  const password = readFileSync(clusterEnv.KILN_PG_SUPERUSER_PASSWORD_FILE, 'utf8').trim();
  return execFileSync('psql', ['-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', '-h', clusterEnv.KILN_DATABASE_HOST,
    '-p', clusterEnv.KILN_DATABASE_PORT, '-U', clusterEnv.KILN_PG_SUPERUSER, '-d', database, '-c', sql],
  { env: { ...process.env, PGPASSWORD: password }, encoding: 'utf8' }).trim();
}

// A `kiln worker` on `database` with the FAST settings (and `env` on top). `exited` resolves
// with its exit code or signal; `kill(signal)` signals it and waits for it to exit.
export function startWorker(database, env = {}) {
  const proc = spawn(kilnBin(), ['worker'], {
    env: {
      ...process.env,
      ...FAST,
      KILN_AUTH_JWT_KEY: randomBytes(32).toString('base64url'),
      KILN_DATABASE_NAME: database,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  let output = '';
  proc.stdout.on('data', (d) => { output += d; });
  proc.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => {
    live.delete(proc);
    resolve(code ?? signal);
  }));
  return {
    proc,
    pid: proc.pid,
    exited,
    output: () => output,
    alive: () => proc.exitCode === null && proc.signalCode === null,
    kill: async (signal = 'SIGKILL') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}
