// The command line: subcommands, help, config files and their errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatabase, dropDatabase, kilnBin, launchKiln } from './lib/kiln.mjs';

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

    // A variable of a section that names no key is a typo too: refused, not ignored.
    const envTypo = kiln(['serve'], { KILN_CONFIG: path.join(dir, 'empty.toml'), KILN_UPLOADS_IMPORT_ROOT: '/srv' });
    assert.equal(envTypo.status, 2);
    assert.match(envTypo.stderr, /KILN_UPLOADS_IMPORT_ROOT is no key's/);
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

  it('admin init creates the first platform administrator once, prints it once, keeps it 0600', async (t) => {
    const server = await launchKiln();
    t.after(() => server.close());
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-admin-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const env = { KILN_DATABASE_NAME: server.database };
    const file = path.join(dir, 'initial-admin.txt');
    const first = kiln(['admin', 'init', '--output', file], env);
    assert.equal(first.status, 0, first.stderr);
    const password = first.stdout.match(/password: (\S+)/)?.[1];
    assert.ok(password && password.length >= 20, first.stdout);
    assert.notEqual(password, 'admin123');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.match(readFileSync(file, 'utf8'), new RegExp(`password: ${password}`));

    // Once: a second run neither prints nor writes credentials.
    const again = path.join(dir, 'again.txt');
    const second = kiln(['admin', 'init', '--output', again], env);
    assert.equal(second.status, 0, second.stderr);
    assert.doesNotMatch(second.stdout, /password/);
    assert.equal(existsSync(again), false);

    const login = await fetch(`${server.url}/api/v1/auth/login`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password }),
    });
    assert.equal(login.status, 200);
    const { access_token: token } = await login.json();
    const me = await (await fetch(`${server.url}/api/v1/auth/me`, { headers: { Authorization: `Bearer ${token}` } })).json();
    assert.equal(me.is_platform_admin, true);
  });

  it('admin create-user makes an account with a given or generated password', async (t) => {
    const server = await launchKiln();
    t.after(() => server.close());
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-admin-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const env = { KILN_DATABASE_NAME: server.database };
    const pwFile = path.join(dir, 'pw');
    writeFileSync(pwFile, 'a long and private passphrase\n');
    const made = kiln(['admin', 'create-user', '--email', 'Ops@Example.com', '--name', 'Ops', '--platform-admin',
      '--password-file', pwFile], env);
    assert.equal(made.status, 0, made.stderr);
    assert.doesNotMatch(made.stdout, /passphrase/, 'a given password is never printed');
    const login = await fetch(`${server.url}/api/v1/auth/login`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: 'ops@example.com', password: 'a long and private passphrase' }),
    });
    assert.equal(login.status, 200);

    const generated = kiln(['admin', 'create-user', '--email', 'dev@example.com', '--name', 'Dev'], env);
    assert.equal(generated.status, 0, generated.stderr);
    assert.match(generated.stdout, /password: \S{20,}/);

    const dup = kiln(['admin', 'create-user', '--email', 'dev@example.com', '--name', 'Dev'], env);
    assert.equal(dup.status, 1);
    assert.match(dup.stderr, /exists/);
    const weak = kiln(['admin', 'create-user', '--email', 'w@example.com', '--name', 'W', '--password-file', pwFile],
      { ...env });
    assert.equal(weak.status, 0, 'the same passphrase is fine for another account');
    writeFileSync(pwFile, 'password123\n');
    const common = kiln(['admin', 'create-user', '--email', 'c@example.com', '--name', 'C', '--password-file', pwFile], env);
    assert.equal(common.status, 1);
    assert.match(common.stderr, /password/);
  });
});
