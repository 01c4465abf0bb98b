// Helpers for the black-box tests of /api/v1: unique test data, checks of the shapes every
// answer shares (problem details, JWTs, timestamps), and a small JSON client with the identity
// calls most tests begin with. Each test file builds its own helpers on top of `apiClient`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kilnBin, launchKiln } from './kiln.mjs';

export const hex = (n) => randomBytes(n).toString('hex');
export const uniqueEmail = () => `${randomUUID()}@example.com`;
export const strongPassword = () => `correct horse ${randomUUID()}`;
export const uniqueUsername = () => `u${hex(8)}`;
export const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

// A kiln for tests that each register their own accounts, all from 127.0.0.1: far more than the
// default per-address registration budget (auth.registrations_per_ip_hour).
export const launchForManyAccounts = () => launchKiln({ env: { KILN_AUTH_REGISTRATIONS_PER_IP_HOUR: '100000' } });

export function decodeJwt(token) {
  assert.match(token, JWT_SHAPE, 'a JWT is three base64url parts');
  const [h, p, s] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')),
    signature: s,
  };
}

export function assertTimestamp(value, what) {
  assert.equal(typeof value, 'string', `${what} is a string`);
  assert.ok(!Number.isNaN(Date.parse(value)), `${what} is a timestamp: ${value}`);
}

export function assertProblem(res, status) {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.ok(res.body && typeof res.body === 'object', `a JSON problem body: ${res.text}`);
  assert.equal(res.body.status, status, 'the body status equals the HTTP status');
  for (const field of ['type', 'title']) {
    assert.equal(typeof res.body[field], 'string', `${field} in ${res.text}`);
    assert.ok(res.body[field].length > 0, `${field} is not empty`);
  }
  return res.body;
}

// A 422 whose errors name exactly `fields` (one entry per bad field).
export function assertInvalid(res, fields) {
  const problem = assertProblem(res, 422);
  assert.ok(Array.isArray(problem.errors), `errors is an array: ${res.text}`);
  for (const e of problem.errors) {
    assert.equal(typeof e.field, 'string', `field in ${JSON.stringify(e)}`);
    assert.equal(typeof e.message, 'string', `message in ${JSON.stringify(e)}`);
    assert.ok(e.message.length > 0, 'the message is not empty');
  }
  if (fields) {
    assert.deepEqual(problem.errors.map((e) => e.field).sort(), [...fields].sort(), `fields of ${res.text}`);
  } else {
    assert.ok(problem.errors.length > 0, `at least one error: ${res.text}`);
  }
  return problem;
}

// A 401 on a route that wants a bearer token.
export function assertUnauthorized(res) {
  const problem = assertProblem(res, 401);
  assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer\b/, 'WWW-Authenticate: Bearer');
  return problem;
}

// HTTP against one kiln's /api/v1, JSON in and out.
// `onCredentials(body)` sees every register and login body before it is sent, `onTokens(body)`
// every login and refresh answer: auth.test.mjs collects the secrets it handled that way, to
// check that none of them reached the log.
export function apiClient(kiln, { onCredentials = () => {}, onTokens = () => {} } = {}) {
  const base = `${kiln.url}/api/v1`;

  async function call(method, path, { body, raw, token, headers = {} } = {}) {
    const h = { ...headers };
    if (token !== undefined) h.authorization = `Bearer ${token}`;
    let payload;
    if (raw !== undefined) {
      payload = raw;
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['content-type'] = 'application/json';
    }
    const res = await fetch(base + path, { method, headers: h, body: payload });
    const text = await res.text();
    let json;
    try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
    return { status: res.status, headers: res.headers, text, body: json };
  }

  // Bearer-authenticated calls with one access token.
  const authed = (token) => ({
    get: (path, opts = {}) => call('GET', path, { ...opts, token }),
    post: (path, body, opts = {}) => call('POST', path, { ...opts, body, token }),
    patch: (path, body, opts = {}) => call('PATCH', path, { ...opts, body, token }),
    delete: (path, opts = {}) => call('DELETE', path, { ...opts, token }),
    me: () => call('GET', '/auth/me', { token }),
  });

  const registerRaw = (body) => {
    onCredentials(body);
    return call('POST', '/auth/register', { body });
  };

  // Registers a fresh account (fields may be overridden); asserts 201 and returns the account.
  async function register(overrides = {}) {
    const fields = { email: uniqueEmail(), password: strongPassword(), name: `Test User ${hex(4)}`, ...overrides };
    const res = await registerRaw(fields);
    assert.equal(res.status, 201, `register: ${res.text}`);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    return { ...fields, user: res.body.user, workspace: res.body.workspace, res };
  }

  // A 200 answering a token pair (`what` names the call); checks its shape and decodes the JWT.
  function tokenPair(res, what) {
    assert.equal(res.status, 200, `${what}: ${res.text}`);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const { access_token: access, refresh_token: refresh, token_type: type, expires_in: expiresIn } = res.body;
    assert.equal(type, 'Bearer');
    assert.equal(expiresIn, 900);
    assert.equal(typeof refresh, 'string');
    assert.ok(refresh.length >= 16, 'a refresh token of some length');
    assert.notEqual(refresh, access);
    const jwt = decodeJwt(access);
    return { access, refresh, claims: jwt.payload, jwt };
  }

  async function loginRaw(body, headers = {}) {
    onCredentials(body);
    const res = await call('POST', '/auth/login', { body, headers });
    onTokens(res.body);
    return res;
  }

  // Logs in with {email} or {username} of an account; asserts 200 and the token pair's shape.
  async function login(account, { by = 'email', userAgent, password = account.password } = {}) {
    const body = by === 'email' ? { email: account.email, password } : { username: account.username, password };
    return tokenPair(await loginRaw(body, userAgent ? { 'user-agent': userAgent } : {}), 'login');
  }

  async function refreshRaw(refreshToken) {
    const res = await call('POST', '/auth/refresh', { body: { refresh_token: refreshToken } });
    onTokens(res.body);
    return res;
  }

  async function refresh(refreshToken) {
    return tokenPair(await refreshRaw(refreshToken), 'refresh');
  }

  return { base, call, authed, register, registerRaw, tokenPair, login, loginRaw, refresh, refreshRaw };
}

// Registers a fresh account on `c` and logs it in: the account, its access token and a client
// authenticated with it (`as`).
export async function signUp(c, overrides = {}) {
  const account = await c.register(overrides);
  const { access } = await c.login(account);
  return { ...account, token: access, as: c.authed(access) };
}

// A single-use ticket for the realtime routes (?ticket=), asked for by `as` (an authenticated
// client, by access token or API key): asserts 201 and the shape, returns the body.
export async function realtimeTicket(as) {
  const res = await as.post('/realtime/tickets');
  assert.equal(res.status, 201, `ticket: ${res.text}`);
  assert.match(res.body.ticket, /^[A-Za-z0-9_-]{43}$/, 'base64url of 32 bytes');
  assertTimestamp(res.body.expires_at, 'expires_at');
  return res.body;
}

// The setup most files begin with: a kiln on a fresh database (`env` added to its environment,
// registrations unlimited), a client for it and one signed-up account. Close with kiln.close().
export async function launchWithAccount({ env = {} } = {}) {
  const kiln = await launchKiln({ env: { KILN_AUTH_REGISTRATIONS_PER_IP_HOUR: '100000', ...env } });
  try {
    const c = apiClient(kiln);
    return { kiln, c, owner: await signUp(c) };
  } catch (e) {
    await kiln.close('SIGKILL');
    throw e;
  }
}

// A platform administrator, made the way an operator makes one (`kiln admin create-user` on the
// same database; `env` reaches another cluster), logged in: an authenticated client.
export async function platformAdmin(c, { database, env = {} } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-admin-'));
  try {
    const email = uniqueEmail();
    const password = strongPassword();
    writeFileSync(path.join(dir, 'pw'), `${password}\n`);
    const made = spawnSync(kilnBin(), ['admin', 'create-user', '--email', email, '--name', 'Operator',
      '--platform-admin', '--password-file', path.join(dir, 'pw')], {
      cwd: dir, // no ./kiln.toml picked up
      encoding: 'utf8',
      env: { ...process.env, ...env, ...(database ? { KILN_DATABASE_NAME: database } : {}) },
      timeout: 20000,
    });
    assert.equal(made.status, 0, made.stderr);
    const { access } = await c.login({ email, password });
    return c.authed(access);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
