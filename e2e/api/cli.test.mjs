// The command line: subcommands, help, config files and their errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatabase, dropDatabase, kilnBin } from './lib/kiln.mjs';

function kiln(args, env = {}) {
  return spawnSync(kilnBin(), args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20000 });
}

describe('kiln command line', () => {
  it('prints its version and help for each command', () => {
    const v = kiln(['version']);
    assert.equal(v.status, 0);
    assert.match(v.stdout, /^kiln \d+\.\d+\.\d+/);
    const help = kiln(['--help']);
    assert.equal(help.status, 0);
    for (const cmd of ['serve', 'migrate', 'version']) assert.match(help.stdout, new RegExp(`\\b${cmd}\\b`));
    const serve = kiln(['serve', '--help']);
    assert.equal(serve.status, 0);
    assert.match(serve.stdout, /--port/);
    assert.equal(kiln(['migrate', '--help']).status, 0);
  });

  it('refuses a bad config value at start with one line naming the key', (t) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-cli-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'kiln.toml');
    writeFileSync(file, '[server]\nport = "eighty"\n');
    const bad = kiln(['serve', '--config', file]);
    assert.equal(bad.status, 2);
    const lines = bad.stderr.trim().split('\n');
    assert.equal(lines.length, 1, bad.stderr);
    assert.match(lines[0], /server\.port/);

    writeFileSync(file, '[server]\nprot = 8080\n');
    const typo = kiln(['serve', '--config', file]);
    assert.equal(typo.status, 2);
    assert.match(typo.stderr, /server\.prot: unknown key/);

    writeFileSync(path.join(dir, 'empty.toml'), '');
    const env = kiln(['serve'], { KILN_CONFIG: path.join(dir, 'empty.toml'), KILN_DATABASE_POOL_SIZE: '0' });
    assert.equal(env.status, 2);
    assert.match(env.stderr, /database\.pool_size/);
  });

  it('serves with a config file given after the subcommand', async (t) => {
    const database = createDatabase();
    t.after(() => dropDatabase(database));
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-cli-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'custom.toml');
    writeFileSync(file, '[server]\nport = 0\naccess_log = false\n');
    const proc = spawn(kilnBin(), ['serve', '--config', file], {
      cwd: dir,
      env: { ...process.env, KILN_DATABASE_NAME: database, KILN_AUTH_JWT_KEY: 'k'.repeat(40) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.after(() => proc.kill('SIGKILL'));
    const port = await new Promise((resolve, reject) => {
      let out = '';
      proc.stdout.on('data', (d) => {
        out += d;
        const m = out.match(/"msg":"listening".*"port":(\d+)/);
        if (m) resolve(Number(m[1]));
      });
      proc.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    assert.equal((await fetch(`http://127.0.0.1:${port}/ready`)).status, 200);
    proc.kill('SIGTERM');
    const code = await new Promise((resolve) => proc.on('exit', resolve));
    assert.equal(code, 0);
  });
});
