// A private, throwaway PostgreSQL cluster (scripts/pg with its own KILN_HOME and port), for tests
// that stop and start the database under a running kiln without disturbing other tests.
import { execFile } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, kilnBin } from './kiln.mjs';

const pgScript = fileURLToPath(new URL('../../../scripts/pg', import.meta.url));

function run(file, args, env, cwd = undefined) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, cwd, timeout: 120000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

// `export K='v'` lines, as printed by `scripts/pg env`.
function parseExports(text) {
  const out = {};
  for (const m of text.matchAll(/^export ([A-Z0-9_]+)='([^']*)'$/gm)) out[m[1]] = m[2];
  return out;
}

// Creates and starts the cluster, migrates its database; `env` is what kiln needs to reach it.
export async function createCluster() {
  const home = mkdtempSync(path.join(os.tmpdir(), 'kiln-e2e-pg-'));
  // Only this cluster's settings: nothing inherited from the shared test cluster.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KILN_DATABASE_')));
  const scriptEnv = { ...base, KILN_HOME: home, KILN_DATABASE_PORT: String(await freePort()), KILN_PG_FAST: '1' };
  const cluster = {
    home,
    env: null,
    start: () => run(pgScript, ['start'], scriptEnv),
    stop: () => run(pgScript, ['stop'], scriptEnv),
    async destroy() {
      try {
        await cluster.stop();
      } finally {
        // As root the data lives in /var/tmp/kiln-<hash>, with $KILN_HOME/pg a symlink to it.
        let target = null;
        try { target = readlinkSync(path.join(home, 'pg')); } catch { /* not a symlink */ }
        if (target && /^\/var\/tmp\/kiln-[0-9a-f]+\/?$/.test(target)) rmSync(target, { recursive: true, force: true });
        rmSync(home, { recursive: true, force: true });
      }
    },
  };
  try {
    await cluster.start();
    cluster.env = { ...parseExports(await run(pgScript, ['env'], scriptEnv)) };
    if (!cluster.env.KILN_DATABASE_HOST) throw new Error('scripts/pg env printed no KILN_DATABASE_HOST');
    // Run from the empty KILN_HOME so no ./kiln.toml is picked up.
    await run(kilnBin(), ['migrate'], { ...base, ...cluster.env }, home);
  } catch (e) {
    await cluster.destroy().catch(() => {});
    throw e;
  }
  return cluster;
}
