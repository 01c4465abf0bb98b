// Mail over HTTP: the outbox written as .eml files (verification at registration, password
// reset end to end), tokens that work once and expire, the reset's effect on sessions, its
// budget, and delivery through a real SMTP server with retries. No token, password or SMTP
// secret may reach the log.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  apiClient, assertInvalid, assertProblem, assertUnauthorized, strongPassword, uniqueEmail,
} from './lib/api.mjs';
import { eventually, launchKiln } from './lib/kiln.mjs';
import { mailFiles, mailsTo, smtpServer, tokenOf, waitForMail } from './lib/mail.mjs';

const secrets = new Set();
const remember = (...values) => { for (const v of values) if (typeof v === 'string' && v.length >= 10) secrets.add(v); };

function assertNoSecretsLogged(kiln) {
  const output = kiln.output();
  assert.ok(secrets.size > 0, 'secrets were collected');
  for (const s of secrets) assert.ok(!output.includes(s), `a secret reached the log: ${s.slice(0, 4)}…`);
  assert.doesNotMatch(output, /\$argon2id\$/);
}

const VERIFY = /Confirm your email/;
const RESET = /Reset your Kiln password/;

describe('mail written to files', { timeout: 120000 }, () => {
  let kiln;
  let api;
  before(async () => {
    kiln = await launchKiln({ env: { KILN_AUTH_REGISTRATIONS_PER_IP_HOUR: '100000' } });
    api = apiClient(kiln, {
      onCredentials: (b) => remember(b?.password),
      onTokens: (b) => remember(b?.access_token, b?.refresh_token),
    });
  });
  after(async () => {
    if (!kiln) return;
    assertNoSecretsLogged(kiln);
    assert.equal(await kiln.close(), 0);
  });

  it('registration mails a verification link that works once; /auth/me shows the result', async () => {
    const a = await api.register();
    const mail = await waitForMail(kiln, a.email, VERIFY);
    assert.match(mail.headers.from, /@/);
    assert.match(mail.headers['message-id'], /^<.+@.+>$/);
    assert.ok(!Number.isNaN(Date.parse(mail.headers.date)));
    assert.equal(statSync(mail.file).mode & 0o777, 0o600, 'the message is private to the server user');
    assert.equal(statSync(kiln.mailDir).mode & 0o777, 0o700, 'so is the folder');
    assert.match(mail.body, /http:\/\/127\.0\.0\.1:8080\/verify-email\?token=/);
    const token = tokenOf(mail);
    remember(token);

    const { access } = await api.login(a);
    assert.equal((await api.authed(access).me()).body.email_verified, false);
    assert.equal((await api.call('POST', '/auth/verify-email', { body: { token } })).status, 204);
    assert.equal((await api.authed(access).me()).body.email_verified, true);
    const again = await api.call('POST', '/auth/verify-email', { body: { token } });
    assertProblem(again, 410);
    assertProblem(await api.authed(access).post('/auth/verify-email/resend'), 409);
  });

  it('refuses malformed (422) and unknown (400) verification tokens', async () => {
    assertInvalid(await api.call('POST', '/auth/verify-email', { body: { token: 'not a token!' } }), ['token']);
    assertProblem(await api.call('POST', '/auth/verify-email',
      { body: { token: randomBytes(32).toString('base64url') } }), 400);
  });

  it('resends a verification link to a signed-in, unverified account', async () => {
    const a = await api.register();
    await waitForMail(kiln, a.email, VERIFY);
    const { access } = await api.login(a);
    assertUnauthorized(await api.call('POST', '/auth/verify-email/resend'));
    assert.equal((await api.authed(access).post('/auth/verify-email/resend')).status, 202);
    const second = await waitForMail(kiln, a.email, VERIFY, 2);
    const token = tokenOf(second);
    remember(token);
    assert.equal((await api.call('POST', '/auth/verify-email', { body: { token } })).status, 204);
    assert.equal((await api.authed(access).me()).body.email_verified, true);
  });

  it('resets a password end to end: every old session ends, the link works once', async () => {
    const a = await api.register();
    const first = await api.login(a);
    const second = await api.login(a);

    const requested = await api.call('POST', '/auth/password-reset', { body: { email: a.email.toUpperCase() } });
    assert.equal(requested.status, 202);
    assert.equal(requested.text, '');
    const mail = await waitForMail(kiln, a.email, RESET);
    assert.match(mail.body, /\/reset-password\?token=/);
    assert.match(mail.body, /30 minutes/);
    const token = tokenOf(mail);
    remember(token);

    // The policy applies, per field; the token is not spent by a refused attempt.
    assertInvalid(await api.call('POST', '/auth/password-reset/confirm',
      { body: { token, new_password: 'short' } }), ['new_password']);
    assertInvalid(await api.call('POST', '/auth/password-reset/confirm',
      { body: { token, new_password: a.email } }), ['new_password']);
    const password = strongPassword();
    remember(password);
    const confirmed = await api.call('POST', '/auth/password-reset/confirm', { body: { token, new_password: password } });
    assert.equal(confirmed.status, 204, confirmed.text);

    for (const s of [first, second]) {
      assertUnauthorized(await api.authed(s.access).me());
      assertUnauthorized(await api.refreshRaw(s.refresh));
    }
    assertUnauthorized(await api.loginRaw({ email: a.email, password: a.password }));
    const fresh = await api.login(a, { password });
    const me = await api.authed(fresh.access).me();
    assert.equal(me.body.email_verified, true, 'the reset mail reached the address');

    const reused = await api.call('POST', '/auth/password-reset/confirm',
      { body: { token, new_password: strongPassword() } });
    assertProblem(reused, 410);
    const events = await api.authed(fresh.access).get('/audit-events?action=auth.password_reset');
    assert.equal(events.status, 200, events.text);
    assert.equal(events.body.items.length, 1);
    assert.equal(events.body.items[0].actor_user_id, a.user.id);
  });

  it('answers 202 for an unknown address too, and mails nothing', async () => {
    const nobody = uniqueEmail();
    const res = await api.call('POST', '/auth/password-reset', { body: { email: nobody } });
    assert.equal(res.status, 202);
    // A known address's request, made after, is mailed: by then the unknown one would have been.
    const a = await api.register();
    assert.equal((await api.call('POST', '/auth/password-reset', { body: { email: a.email } })).status, 202);
    await waitForMail(kiln, a.email, RESET);
    assert.equal(mailsTo(kiln.mailDir, nobody).length, 0);
    assertInvalid(await api.call('POST', '/auth/password-reset', { body: { email: 'nope' } }), ['email']);
    assertProblem(await api.call('POST', '/auth/password-reset/confirm',
      { body: { token: randomBytes(32).toString('base64url'), new_password: strongPassword() } }), 400);
  });

  it('limits reset requests per address, known or not (429 with Retry-After)', async () => {
    const email = uniqueEmail();
    for (let i = 0; i < 5; i += 1) {
      assert.equal((await api.call('POST', '/auth/password-reset', { body: { email } })).status, 202);
    }
    const limited = await api.call('POST', '/auth/password-reset', { body: { email } });
    assertProblem(limited, 429);
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
  });
});

describe('mail token expiry', { timeout: 60000 }, () => {
  let kiln;
  before(async () => { kiln = await launchKiln({ env: { KILN_AUTH_RESET_TTL_S: '1', KILN_AUTH_VERIFY_TTL_S: '1' } }); });
  after(async () => { if (kiln) assert.equal(await kiln.close(), 0); });

  it('an expired reset or verification link is refused with 410', async () => {
    const api = apiClient(kiln);
    const a = await api.register();
    const verify = tokenOf(await waitForMail(kiln, a.email, VERIFY));
    assert.equal((await api.call('POST', '/auth/password-reset', { body: { email: a.email } })).status, 202);
    const reset = tokenOf(await waitForMail(kiln, a.email, RESET));
    // While the link lives, a weak password is 422; once it expired, 410 whatever the password.
    const gone = await eventually(async () => {
      const r = await api.call('POST', '/auth/password-reset/confirm', { body: { token: reset, new_password: 'x' } });
      if (r.status !== 422 && r.status !== 410) throw new Error(`unexpected ${r.status}: ${r.text}`);
      return r.status === 410 && r;
    }, { what: 'the reset link expired' });
    assertProblem(gone, 410);
    assertProblem(await api.call('POST', '/auth/verify-email', { body: { token: verify } }), 410);
  });
});

describe('mail through SMTP', { timeout: 60000 }, () => {
  let kiln;
  let smtp;
  let dir;
  const password = `smtp secret ${randomBytes(8).toString('hex')}`;
  before(async () => {
    // The first message is refused once (451): the sender must retry it.
    smtp = await smtpServer({ reply: (stage, n) => (stage === 'data' && n === 1 ? '451 4.3.0 try again later' : null) });
    dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-smtp-'));
    const passwordFile = path.join(dir, 'smtp-password');
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    kiln = await launchKiln({
      env: {
        KILN_MAIL_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
        KILN_MAIL_SMTP_REQUIRE_TLS: 'false',
        KILN_MAIL_SMTP_USER: 'kiln-relay',
        KILN_MAIL_SMTP_PASSWORD_FILE: passwordFile,
        KILN_MAIL_RETRY_BASE_MS: '50',
        KILN_MAIL_FROM: 'Kiln Test <kiln@test.example>',
      },
    });
  });
  after(async () => {
    if (kiln) assert.equal(await kiln.close(), 0);
    if (smtp) await smtp.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('delivers through the relay with its credentials, retrying a temporary refusal', async () => {
    const api = apiClient(kiln);
    const a = await api.register();
    const mail = await eventually(() => smtp.messages.find((m) => m.headers.to === a.email),
      { timeoutMs: 15000, what: 'the verification mail at the SMTP server' });
    assert.equal(smtp.attempts(), 2, 'refused once, then delivered');
    assert.deepEqual(mail.to, [`<${a.email}>`]);
    assert.equal(mail.from, '<kiln@test.example>');
    assert.equal(mail.headers.from, 'Kiln Test <kiln@test.example>');
    assert.match(mail.headers.subject, VERIFY);
    const token = tokenOf(mail);
    assert.ok(smtp.logins.some((l) => l.user === 'kiln-relay' && l.password === password), 'authenticated');
    assert.equal(mailFiles(kiln.mailDir).length, 0, 'no files when SMTP is configured');
    assert.equal((await api.call('POST', '/auth/verify-email', { body: { token } })).status, 204);
    await kiln.waitForLog((e) => e.msg === 'mail delivery failed; will retry');
    const output = kiln.output();
    assert.ok(!output.includes(password), 'the SMTP password is never logged');
    assert.ok(!output.includes(token), 'nor the token');
  });
});
