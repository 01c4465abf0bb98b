// Identity over HTTP: registration and the password policy, login (email or username), JWT
// access tokens, refresh rotation with reuse detection, logout / logout-all, the profile,
// password changes, the session list, per-account brute-force lockout, and that no secret
// reaches the logs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import {
  apiClient, assertInvalid, assertProblem, assertTimestamp, assertUnauthorized, hex, JWT_SHAPE, launchForManyAccounts,
  strongPassword, uniqueEmail, uniqueUsername,
} from './lib/api.mjs';
import { eventually, launchKiln } from './lib/kiln.mjs';

// Every password and token the tests handle; the log test checks that none was logged.
// Passwords that are public knowledge or equal to a non-secret field are not tracked.
const secrets = new Set();
const COMMON = ['1234567890', 'qwertyuiop', 'password123'];
const remember = (...values) => { for (const v of values) if (typeof v === 'string' && v.length > 0) secrets.add(v); };
function rememberPassword(body) {
  const pw = body?.password;
  if (typeof pw !== 'string' || pw.length < 10 || COMMON.includes(pw)) return;
  const lower = pw.toLowerCase();
  if ([body.email, body.name].some((v) => typeof v === 'string' && v.toLowerCase() === lower)) return;
  remember(pw);
}

const b64url = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

function assertUser(user) {
  assert.equal(typeof user.id, 'string');
  assert.ok(user.id.length > 0);
  assert.equal(typeof user.email, 'string');
  assert.ok(user.username === null || typeof user.username === 'string', `username: ${user.username}`);
  assert.equal(typeof user.name, 'string');
  for (const flag of ['email_verified', 'is_platform_admin', 'must_change_password']) {
    assert.equal(typeof user[flag], 'boolean', `${flag} is a boolean`);
  }
  assertTimestamp(user.created_at, 'created_at');
  const body = JSON.stringify(user);
  assert.doesNotMatch(body, /\$argon2/, 'no password hash in a user');
  assert.doesNotMatch(body, /password_hash/, 'no password hash field in a user');
}

// The shared client, collecting the secrets it handles, plus checks of revocation.
function client(kiln) {
  const c = apiClient(kiln, {
    onCredentials: rememberPassword,
    onTokens: (body) => remember(body?.access_token, body?.refresh_token),
  });
  const { authed, refreshRaw } = c;

  // The token is refused on GET /auth/me (checked per request, so at once; polled up to 2 s).
  async function assertRevoked(token, what = 'access token refused') {
    const res = await eventually(async () => {
      const r = await authed(token).me();
      return r.status === 401 && r;
    }, { timeoutMs: 2000, intervalMs: 50, what });
    assertUnauthorized(res);
  }

  async function assertAlive(token, what = 'access token accepted') {
    const res = await authed(token).me();
    assert.equal(res.status, 200, `${what}: ${res.text}`);
    return res.body;
  }

  async function assertRefreshRefused(refreshToken) {
    assertProblem(await refreshRaw(refreshToken), 401);
  }

  return { ...c, assertRevoked, assertAlive, assertRefreshRefused };
}

describe('auth', { timeout: 120000 }, () => {
  let kiln;
  let c;
  before(async () => { kiln = await launchForManyAccounts(); c = client(kiln); });
  after(async () => { if (kiln) assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM'); });

  describe('register', () => {
    it('creates a user and a workspace it owns (201), without echoing secrets', async () => {
      const username = uniqueUsername();
      const a = await c.register({ username });
      assertUser(a.user);
      assert.equal(a.user.email, a.email);
      assert.equal(a.user.name, a.name);
      assert.equal(a.user.username, username);
      assert.equal(typeof a.workspace.id, 'string');
      assert.ok(a.workspace.id.length > 0);
      assert.equal(typeof a.workspace.name, 'string');
      assert.equal(a.workspace.role, 'owner');
      assert.ok(!a.res.text.includes(a.password), 'the password is not echoed');
      assert.doesNotMatch(a.res.text, /\$argon2/);

      const b = await c.register();
      assert.notEqual(b.user.id, a.user.id, 'each registration is a new user');
      assert.notEqual(b.workspace.id, a.workspace.id, 'with its own workspace');
    });

    it('stores the email lowercased and treats it as case-insensitively unique (409)', async () => {
      const local = `Mixed.Case-${hex(6)}`;
      const a = await c.register({ email: `${local}@Example.COM` });
      assert.equal(a.user.email, `${local}@example.com`.toLowerCase());

      for (const email of [`${local}@example.com`.toLowerCase(), `${local}@EXAMPLE.COM`.toUpperCase(), a.email]) {
        assertProblem(await c.registerRaw({ email, password: strongPassword(), name: 'Someone Else' }), 409);
      }
    });

    it('refuses a username that is taken (409)', async () => {
      const username = uniqueUsername();
      await c.register({ username });
      assertProblem(await c.registerRaw({ email: uniqueEmail(), password: strongPassword(), name: 'X', username }), 409);
    });

    it('accepts passwords of 10 and 128 characters, refuses 9 and 129 (422 password)', async () => {
      const of = (n) => `tree ${randomUUID()} `.repeat(5).slice(0, n);
      assert.equal(of(128).length, 128);
      const ten = `Kx${hex(4)}`;
      assert.equal(ten.length, 10);
      await c.register({ password: ten });
      await c.register({ password: of(128) });
      assertInvalid(await c.registerRaw({ email: uniqueEmail(), password: ten.slice(0, 9), name: 'Short' }), ['password']);
      assertInvalid(await c.registerRaw({ email: uniqueEmail(), password: of(129), name: 'Long' }), ['password']);
    });

    it('refuses a password equal to the email or the name, or containing the email\'s local part', async () => {
      const email = uniqueEmail();
      assertInvalid(await c.registerRaw({ email, password: email, name: 'Name One' }), ['password']);
      assertInvalid(await c.registerRaw({ email, password: email.toUpperCase(), name: 'Name One' }), ['password']);

      const name = `Quentin Longname ${hex(4)}`;
      assertInvalid(await c.registerRaw({ email: uniqueEmail(), password: name, name }), ['password']);
      assertInvalid(await c.registerRaw({ email: uniqueEmail(), password: name.toUpperCase(), name }), ['password']);

      const local = `marmalade${hex(3)}`;
      assertInvalid(await c.registerRaw({ email: `${local}@example.com`, password: `my ${local} is the best`, name: 'M' }),
        ['password']);
      // A local part shorter than 4 characters is not checked.
      const short = `q${hex(1)}`;
      await c.register({ email: `${short}@example.com`, password: `correct ${short} horse ${randomUUID()}` });
    });

    it('refuses common passwords (422 password)', async () => {
      for (const password of ['1234567890', 'qwertyuiop', 'password123']) {
        assertInvalid(await c.registerRaw({ email: uniqueEmail(), password, name: 'Common Choice' }), ['password']);
      }
    });

    it('refuses an invalid email (422 email) and an empty name (422 name)', async () => {
      for (const email of ['no-at-sign.example.com', '', '@example.com', 'someone@']) {
        assertInvalid(await c.registerRaw({ email, password: strongPassword(), name: 'Fine Name' }), ['email']);
      }
      assertInvalid(await c.registerRaw({ email: uniqueEmail(), password: strongPassword(), name: '' }), ['name']);
    });

    it('reports several bad fields at once, one entry each', async () => {
      assertInvalid(await c.registerRaw({ email: 'nope', password: 'short', name: '' }), ['email', 'password', 'name']);
      assertInvalid(await c.registerRaw({}), ['email', 'password', 'name']);
      assertInvalid(await c.registerRaw({ email: uniqueEmail(), name: 'No Password' }), ['password']);
    });

    it('rejects unknown fields (422 naming them) and creates nothing', async () => {
      const fields = { email: uniqueEmail(), password: strongPassword(), name: 'Would Be Admin' };
      assertInvalid(await c.registerRaw({ ...fields, is_platform_admin: true }), ['is_platform_admin']);
      const ok = await c.register(fields); // the email is still free
      assert.equal(ok.user.email, fields.email);
    });
  });

  describe('malformed requests', () => {
    const routes = ['/auth/register', '/auth/login', '/auth/refresh'];
    for (const route of routes) {
      it(`POST ${route}: malformed JSON is 400, text/plain is 415`, async () => {
        assertProblem(await c.call('POST', route, { raw: '{"email": ', headers: { 'content-type': 'application/json' } }), 400);
        const json = JSON.stringify({ email: uniqueEmail(), password: strongPassword(), name: 'N', refresh_token: 'x' });
        assertProblem(await c.call('POST', route, { raw: json, headers: { 'content-type': 'text/plain' } }), 415);
      });
    }

    it('PATCH /auth/me: malformed JSON is 400, text/plain is 415', async () => {
      const a = await c.register();
      const { access } = await c.login(a);
      assertProblem(await c.call('PATCH', '/auth/me', {
        raw: '{"name": ', token: access, headers: { 'content-type': 'application/json' },
      }), 400);
      assertProblem(await c.call('PATCH', '/auth/me', {
        raw: '{"name":"x"}', token: access, headers: { 'content-type': 'text/plain' },
      }), 415);
      assert.equal((await c.assertAlive(access)).name, a.name, 'nothing changed');
    });
  });

  describe('login', () => {
    it('answers a token pair whose access token is an HS256 JWT with the documented claims', async () => {
      const a = await c.register();
      const t0 = Math.floor(Date.now() / 1000);
      const { jwt, claims } = await c.login(a);
      const t1 = Math.ceil(Date.now() / 1000);
      assert.equal(jwt.header.alg, 'HS256');
      assert.equal(jwt.header.typ, 'JWT');
      assert.ok(typeof jwt.header.kid === 'string' && jwt.header.kid.length > 0, 'a kid');
      assert.equal(claims.sub, a.user.id);
      assert.equal(claims.wid, a.workspace.id);
      assert.equal(claims.role, 'owner');
      assert.ok(typeof claims.sid === 'string' && claims.sid.length > 0, 'a session id');
      assert.ok(typeof claims.iss === 'string' && claims.iss.length > 0, 'an issuer');
      assert.ok((typeof claims.aud === 'string' && claims.aud.length > 0)
        || (Array.isArray(claims.aud) && claims.aud.length > 0), 'an audience');
      for (const k of ['iat', 'nbf', 'exp']) assert.ok(Number.isInteger(claims[k]), `${k} is an integer`);
      assert.equal(claims.exp - claims.iat, 900);
      assert.ok(claims.iat >= t0 - 5 && claims.iat <= t1 + 5, `iat ${claims.iat} is now`);
      assert.ok(claims.nbf <= t1 + 5, 'usable now');
    });

    it('looks the email up case-insensitively, and logs in by username', async () => {
      const username = uniqueUsername();
      const a = await c.register({ username });
      const upper = await c.login({ ...a, email: a.email.toUpperCase() });
      assert.equal(upper.claims.sub, a.user.id);
      const byName = await c.login(a, { by: 'username' });
      assert.equal(byName.claims.sub, a.user.id);
      assert.notEqual(byName.claims.sid, upper.claims.sid, 'each login is its own session');
    });

    it('answers a wrong password and an unknown account with the same 401', async () => {
      const username = uniqueUsername();
      const a = await c.register({ username });
      const wrong = assertProblem(await c.loginRaw({ email: a.email, password: strongPassword() }), 401);
      const unknown = assertProblem(await c.loginRaw({ email: uniqueEmail(), password: strongPassword() }), 401);
      const unknownUser = assertProblem(await c.loginRaw({ username: uniqueUsername(), password: strongPassword() }), 401);
      for (const other of [unknown, unknownUser]) {
        assert.equal(other.type, wrong.type);
        assert.equal(other.title, wrong.title);
        assert.equal(other.detail, wrong.detail);
      }
      await c.login(a); // still fine after one mistake
    });

    it('wants exactly one of email and username, and a password (422)', async () => {
      const username = uniqueUsername();
      const a = await c.register({ username });
      assertInvalid(await c.loginRaw({ email: a.email, username, password: a.password }));
      assertInvalid(await c.loginRaw({ password: a.password }));
      assertInvalid(await c.loginRaw({ email: a.email }), ['password']);
      assertInvalid(await c.loginRaw({ email: a.email, password: a.password, remember_me: true }), ['remember_me']);
    });
  });

  describe('access tokens', () => {
    it('GET /auth/me answers the user with its workspace', async () => {
      const a = await c.register({ email: `Me.${randomUUID()}@Example.com` });
      const { access } = await c.login(a);
      const me = await c.assertAlive(access);
      assertUser(me);
      assert.equal(me.id, a.user.id);
      assert.equal(me.email, a.email.toLowerCase(), 'emails are returned lowercased');
      assert.equal(me.name, a.name);
      assert.equal(me.username, null, 'no username was given');
      assert.equal(me.workspace.id, a.workspace.id);
      assert.equal(me.workspace.name, a.workspace.name);
      assert.equal(me.workspace.role, 'owner');
      assert.ok(Math.abs(Date.parse(me.created_at) - Date.now()) < 5 * 60 * 1000, `created just now: ${me.created_at}`);
    });

    it('refuses a missing, garbage, forged or tampered token (401 with WWW-Authenticate: Bearer)', async () => {
      const a = await c.register();
      const { access, refresh, jwt } = await c.login(a);
      const [h, p, s] = access.split('.');

      assertUnauthorized(await c.call('GET', '/auth/me'));
      assertUnauthorized(await c.call('GET', '/auth/me', { headers: { authorization: `Basic ${b64url('a:b')}` } }));
      assertUnauthorized(await c.authed('garbage').me());
      assertUnauthorized(await c.authed('').me());
      assertUnauthorized(await c.authed(refresh).me());

      // Payload changed, signature kept.
      const longer = b64url({ ...jwt.payload, exp: jwt.payload.exp + 3600 });
      assertUnauthorized(await c.authed(`${h}.${longer}.${s}`).me());
      // Signature altered in the middle (the last character may only carry padding bits).
      const i = Math.floor(s.length / 2);
      const flipped = s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
      assertUnauthorized(await c.authed(`${h}.${p}.${flipped}`).me());
      // No signature at all.
      assertUnauthorized(await c.authed(`${b64url({ alg: 'none', typ: 'JWT' })}.${p}.`).me());
      assertUnauthorized(await c.authed(`${h}.${p}`).me());
      // Signed with some other key.
      const forgedHead = b64url(jwt.header);
      const forgedSig = createHmac('sha256', 'secret').update(`${forgedHead}.${p}`).digest('base64url');
      assertUnauthorized(await c.authed(`${forgedHead}.${p}.${forgedSig}`).me());

      await c.assertAlive(access, 'the genuine token still works');
    });

    it('every bearer route wants a token', async () => {
      const routes = [
        ['GET', '/auth/me'], ['PATCH', '/auth/me', { name: 'X' }], ['POST', '/auth/logout'],
        ['POST', '/auth/logout-all'], ['POST', '/auth/change-password', { current_password: 'a', new_password: 'b' }],
        ['GET', '/auth/sessions'], ['DELETE', `/auth/sessions/${randomUUID()}`],
      ];
      for (const [method, path, body] of routes) {
        const res = await c.call(method, path, { body });
        assert.equal(res.status, 401, `${method} ${path}`);
        assertUnauthorized(res);
      }
    });
  });

  describe('refresh', () => {
    it('rotates the pair: the new tokens work, the presented refresh token is spent', async () => {
      const a = await c.register();
      const first = await c.login(a);
      const second = await c.refresh(first.refresh);
      assert.notEqual(second.refresh, first.refresh, 'a new refresh token');
      assert.equal(second.claims.sub, a.user.id);
      assert.equal(second.claims.sid, first.claims.sid, 'the same session');
      assert.equal(second.claims.wid, a.workspace.id);
      assert.equal((await c.assertAlive(second.access)).id, a.user.id);
      const third = await c.refresh(second.refresh);
      assert.notEqual(third.refresh, second.refresh);
      await c.assertAlive(third.access);
    });

    it('a spent refresh token presented again is 401 and revokes the whole family', async () => {
      const a = await c.register();
      const first = await c.login(a);
      const rotated = await c.refresh(first.refresh);
      await c.assertAlive(rotated.access);

      await c.assertRefreshRefused(first.refresh); // reuse
      await c.assertRefreshRefused(rotated.refresh); // the legitimate successor is revoked too
      await c.assertRevoked(rotated.access, 'the rotated access token is refused');
      await c.assertRevoked(first.access, 'the original access token is refused');
    });

    it('refuses garbage and a missing refresh token', async () => {
      assertProblem(await c.refreshRaw('garbage'), 401);
      assertProblem(await c.refreshRaw(randomBytes(32).toString('base64url')), 401);
      const a = await c.register();
      const { access } = await c.login(a);
      assertProblem(await c.refreshRaw(access), 401); // an access token is not a refresh token
      assertInvalid(await c.call('POST', '/auth/refresh', { body: {} }), ['refresh_token']);
    });
  });

  describe('logout', () => {
    it('POST /auth/logout ends the calling session only (204)', async () => {
      const a = await c.register();
      const s1 = await c.login(a);
      const s2 = await c.login(a);
      const res = await c.authed(s1.access).post('/auth/logout');
      assert.equal(res.status, 204, res.text);
      assert.equal(res.text, '');
      await c.assertRevoked(s1.access);
      await c.assertRefreshRefused(s1.refresh);
      await c.assertAlive(s2.access, 'the other session still works');
      const s2b = await c.refresh(s2.refresh);
      await c.assertAlive(s2b.access);
    });

    it('accepts the session\'s refresh token in the body', async () => {
      const a = await c.register();
      const s = await c.login(a);
      const res = await c.authed(s.access).post('/auth/logout', { refresh_token: s.refresh });
      assert.equal(res.status, 204, res.text);
      await c.assertRevoked(s.access);
      await c.assertRefreshRefused(s.refresh);
    });

    it('POST /auth/logout-all ends every session of the user, and only theirs (204)', async () => {
      const a = await c.register();
      const b = await c.register();
      const s1 = await c.login(a);
      const s2 = await c.login(a);
      const s3 = await c.refresh((await c.login(a)).refresh);
      const theirs = await c.login(b);
      const res = await c.authed(s1.access).post('/auth/logout-all');
      assert.equal(res.status, 204, res.text);
      for (const s of [s1, s2, s3]) {
        await c.assertRevoked(s.access);
        await c.assertRefreshRefused(s.refresh);
      }
      await c.assertAlive(theirs.access, 'another user is untouched');
      const again = await c.login(a);
      await c.assertAlive(again.access, 'the account can log in again');
    });
  });

  describe('profile', () => {
    it('PATCH /auth/me changes the name and the username', async () => {
      const a = await c.register();
      const { access } = await c.login(a);
      const username = uniqueUsername();
      const res = await c.authed(access).patch('/auth/me', { name: 'New Name', username });
      assert.equal(res.status, 200, res.text);
      assertUser(res.body);
      assert.equal(res.body.name, 'New Name');
      assert.equal(res.body.username, username);
      assert.equal(res.body.id, a.user.id);
      const me = await c.assertAlive(access);
      assert.equal(me.name, 'New Name');
      assert.equal(me.username, username);

      const nameOnly = await c.authed(access).patch('/auth/me', { name: 'Newer Name' });
      assert.equal(nameOnly.status, 200, nameOnly.text);
      assert.equal(nameOnly.body.username, username, 'an absent field is left alone');
      const same = await c.authed(access).patch('/auth/me', { username });
      assert.equal(same.status, 200, `keeping one's own username: ${same.text}`);
      const byName = await c.login({ ...a, username }, { by: 'username' });
      assert.equal(byName.claims.sub, a.user.id, 'the new username logs in');
    });

    it('refuses a username taken by someone else (409) and an empty name (422)', async () => {
      const taken = uniqueUsername();
      await c.register({ username: taken });
      const a = await c.register();
      const { access } = await c.login(a);
      assertProblem(await c.authed(access).patch('/auth/me', { username: taken }), 409);
      assertInvalid(await c.authed(access).patch('/auth/me', { name: '' }), ['name']);
      const me = await c.assertAlive(access);
      assert.equal(me.username, null);
      assert.equal(me.name, a.name);
    });

    it('refuses fields that are not editable here (422 naming them)', async () => {
      const a = await c.register();
      const { access } = await c.login(a);
      const was = await c.assertAlive(access);
      assertInvalid(await c.authed(access).patch('/auth/me', { is_platform_admin: true }), ['is_platform_admin']);
      assertInvalid(await c.authed(access).patch('/auth/me', { email: uniqueEmail() }), ['email']);
      const me = await c.assertAlive(access);
      assert.equal(me.is_platform_admin, was.is_platform_admin);
      assert.equal(me.email, was.email);
    });
  });

  describe('change password', () => {
    it('refuses a wrong current password (422 current_password) and a weak new one (422 new_password)', async () => {
      const a = await c.register();
      const { access } = await c.login(a);
      const api = c.authed(access);
      assertInvalid(await api.post('/auth/change-password', { current_password: strongPassword(), new_password: strongPassword() }),
        ['current_password']);
      assert.ok(a.name.length >= 10, 'a name long enough to be a password');
      for (const weak of ['short', '1234567890', a.email, a.name]) {
        assertInvalid(await api.post('/auth/change-password', { current_password: a.password, new_password: weak }),
          ['new_password']);
      }
      assertInvalid(await api.post('/auth/change-password', { current_password: a.password }), ['new_password']);
      await c.login(a); // the password did not change
    });

    it('changes it (204): other sessions end, this one goes on, only the new password logs in', async () => {
      const a = await c.register();
      const mine = await c.login(a);
      const other = await c.login(a);
      const next = strongPassword();
      remember(next);
      const res = await c.authed(mine.access).post('/auth/change-password', { current_password: a.password, new_password: next });
      assert.equal(res.status, 204, res.text);

      await c.assertRevoked(other.access, 'the other session is revoked');
      await c.assertRefreshRefused(other.refresh);
      await c.assertAlive(mine.access, 'the calling session keeps working');
      const rotated = await c.refresh(mine.refresh);
      await c.assertAlive(rotated.access);

      assertProblem(await c.loginRaw({ email: a.email, password: a.password }), 401);
      const fresh = await c.login(a, { password: next });
      assert.equal(fresh.claims.sub, a.user.id);
    });
  });

  describe('sessions', () => {
    it('GET /auth/sessions lists the caller\'s live sessions, marking the current one', async () => {
      const a = await c.register();
      const stranger = await c.register();
      const uaOne = `kiln-e2e-one/${randomUUID()}`;
      const uaTwo = `kiln-e2e-two/${randomUUID()}`;
      const one = await c.login(a, { userAgent: uaOne });
      const two = await c.login(a, { userAgent: uaTwo });
      await c.login(stranger, { userAgent: 'kiln-e2e-stranger' });

      const res = await c.authed(one.access).get('/auth/sessions');
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.next_cursor, null);
      const { items } = res.body;
      assert.equal(items.length, 2, `only this user's two sessions: ${res.text}`);
      for (const item of items) {
        assert.equal(typeof item.id, 'string');
        assert.equal(item.ip, '127.0.0.1');
        assertTimestamp(item.created_at, 'created_at');
        if (item.last_used_at !== null) assertTimestamp(item.last_used_at, 'last_used_at');
        assert.equal(typeof item.current, 'boolean');
      }
      const current = items.filter((i) => i.current);
      assert.equal(current.length, 1, 'exactly one current session');
      assert.equal(current[0].id, one.claims.sid, 'the current one is the token\'s session');
      assert.equal(current[0].user_agent, uaOne);
      const rest = items.find((i) => !i.current);
      assert.equal(rest.id, two.claims.sid);
      assert.equal(rest.user_agent, uaTwo);

      const fromTwo = await c.authed(two.access).get('/auth/sessions');
      assert.equal(fromTwo.status, 200);
      assert.equal(fromTwo.body.items.find((i) => i.current)?.id, two.claims.sid, 'current follows the caller');

      // A revoked session is no longer listed.
      assert.equal((await c.authed(two.access).post('/auth/logout')).status, 204);
      const remaining = await c.authed(one.access).get('/auth/sessions');
      assert.equal(remaining.status, 200);
      assert.deepEqual(remaining.body.items.map((i) => i.id), [one.claims.sid]);
    });

    it('DELETE /auth/sessions/{id} revokes one of the caller\'s sessions (204)', async () => {
      const a = await c.register();
      const keep = await c.login(a);
      const drop = await c.login(a);
      const res = await c.authed(keep.access).delete(`/auth/sessions/${drop.claims.sid}`);
      assert.equal(res.status, 204, res.text);
      await c.assertRevoked(drop.access);
      await c.assertRefreshRefused(drop.refresh);
      await c.assertAlive(keep.access);
      const list = await c.authed(keep.access).get('/auth/sessions');
      assert.deepEqual(list.body.items.map((i) => i.id), [keep.claims.sid]);
    });

    it('answers 404 for a session that is not the caller\'s, and leaves it alone', async () => {
      const a = await c.register();
      const b = await c.register();
      const mine = await c.login(a);
      const theirs = await c.login(b);
      assertProblem(await c.authed(mine.access).delete(`/auth/sessions/${theirs.claims.sid}`), 404);
      await c.assertAlive(theirs.access, 'the other user\'s session survives');
      assertProblem(await c.authed(mine.access).delete(`/auth/sessions/${randomUUID()}`), 404);
      const malformed = await c.authed(mine.access).delete('/auth/sessions/not-a-uuid');
      assert.ok([404, 422].includes(malformed.status), `malformed id: ${malformed.status}`);
      assertProblem(malformed, malformed.status);
      await c.assertAlive(mine.access);
    });
  });

  it('logs none of the passwords, tokens or hashes it handled', async () => {
    // One more full flow, so this test stands on its own.
    const a = await c.register();
    const first = await c.login(a);
    const second = await c.refresh(first.refresh);
    const next = strongPassword();
    remember(next);
    const changed = await c.authed(second.access).post('/auth/change-password', { current_password: a.password, new_password: next });
    assert.equal(changed.status, 204);
    await c.loginRaw({ email: a.email, password: a.password }); // the old one, now wrong

    // Everything before this request has been logged once its own line is.
    const marker = `auth-log-check-${hex(6)}`;
    assert.equal((await fetch(`${kiln.url}/health`, { headers: { 'X-Request-Id': marker } })).status, 200);
    await kiln.waitForLog((e) => e.msg === 'request' && e.request_id === marker, 5000);
    assert.ok(kiln.logs.some((e) => e.msg === 'request' && e.path === '/api/v1/auth/login'), 'logins were logged');

    const output = kiln.output();
    assert.ok(secrets.has(next) && secrets.has(second.refresh) && secrets.has(a.password), 'the secrets were collected');
    for (const s of secrets) {
      assert.ok(!output.includes(s), `a secret reached the log: ${s.slice(0, 12)}…`);
      if (JWT_SHAPE.test(s)) assert.ok(!output.includes(s.split('.')[2]), 'a JWT signature reached the log');
    }
    assert.ok(!output.includes('$argon2id$'), 'no password hash in the log');
  });
});

describe('auth brute-force lockout', { timeout: 60000 }, () => {
  let kiln;
  let c;
  before(async () => {
    kiln = await launchKiln(); // its own instance: nothing else counts against this account or IP
    c = client(kiln);
  });
  after(async () => { if (kiln) assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM'); });

  it('locks an account after repeated wrong passwords (429 with Retry-After), even for the right one', async () => {
    const a = await c.register();
    await c.login(a); // the account works to begin with

    const statuses = [];
    let locked;
    for (let i = 0; i < 12 && !locked; i++) {
      const res = await c.loginRaw({ email: a.email, password: strongPassword() });
      statuses.push(res.status);
      if (res.status === 429) locked = res;
      else assertProblem(res, 401);
    }
    assert.ok(locked, `locked within 12 wrong attempts: ${statuses}`);
    assert.ok(statuses[0] === 401, `not locked before the first mistake: ${statuses}`);
    for (const res of [locked, await c.loginRaw({ email: a.email, password: a.password })]) {
      assertProblem(res, 429);
      const retry = res.headers.get('retry-after');
      assert.match(retry ?? '', /^\d+$/, `Retry-After is whole seconds: ${retry}`);
      assert.ok(Number(retry) >= 1, `Retry-After ${retry} >= 1`);
    }
    assert.equal(kiln.alive(), true);
  });
});
