// Behind a reverse proxy (server.trusted_proxies): the client address that sessions, audit events
// and the per-address login lock see is the one the trusted proxy appended to X-Forwarded-For;
// from any other peer, or with no proxy configured, the header is ignored.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { apiClient } from './lib/api.mjs';
import { launchKiln } from './lib/kiln.mjs';

const sessionIps = async (c, access) => {
  const res = await c.authed(access).get('/auth/sessions');
  assert.equal(res.status, 200, res.text);
  return res.body.items.map((i) => i.ip).sort();
};

describe('trusted proxies', { timeout: 60000 }, () => {
  let proxied;
  let direct;
  before(async () => {
    [proxied, direct] = await Promise.all([
      launchKiln({ env: { KILN_SERVER_TRUSTED_PROXIES: '127.0.0.1,10.0.0.0/8', KILN_AUTH_LOGIN_IP_FAILURES: '3' } }),
      launchKiln({ env: { KILN_AUTH_LOGIN_IP_FAILURES: '3' } }),
    ]);
  });
  after(async () => {
    await Promise.all([proxied?.close(), direct?.close()]);
  });

  it('takes the address the trusted proxy appended, not one the client wrote', async () => {
    const c = apiClient(proxied);
    const account = await c.register();
    const body = { email: account.email, password: account.password };
    // The client sent its own header; the proxy (this test's loopback peer) appended the real
    // address, behind one more trusted hop.
    const one = c.tokenPair(
      await c.loginRaw(body, { 'x-forwarded-for': '1.1.1.1, 198.51.100.7, 10.0.0.5' }), 'login');
    c.tokenPair(await c.loginRaw(body, { 'x-forwarded-for': '2001:db8::9' }), 'login');
    assert.deepEqual(await sessionIps(c, one.access), ['198.51.100.7', '2001:db8::9']);
  });

  it('locks one forwarded address after its failures while others still log in', async () => {
    const c = apiClient(proxied);
    const account = await c.register();
    const wrong = { email: account.email, password: `${account.password}x` };
    const attacker = { 'x-forwarded-for': '203.0.113.66' };
    // Different accounts, so that the per-account lock (5) is not what answers.
    for (let i = 0; i < 3; i += 1) {
      const other = await c.register();
      const res = await c.loginRaw({ email: other.email, password: `${other.password}x` }, attacker);
      assert.equal(res.status, 401, res.text);
    }
    const locked = await c.loginRaw({ email: account.email, password: account.password }, attacker);
    assert.equal(locked.status, 429, locked.text);
    const elsewhere = await c.loginRaw({ email: account.email, password: account.password },
      { 'x-forwarded-for': '198.51.100.8' });
    assert.equal(elsewhere.status, 200, elsewhere.text);
    assert.equal((await c.loginRaw(wrong, { 'x-forwarded-for': '198.51.100.9' })).status, 401);
  });

  it('ignores the header when no proxy is trusted', async () => {
    const c = apiClient(direct);
    const account = await c.register();
    const one = c.tokenPair(await c.loginRaw({ email: account.email, password: account.password },
      { 'x-forwarded-for': '198.51.100.7' }), 'login');
    assert.deepEqual(await sessionIps(c, one.access), ['127.0.0.1']);
  });
});
