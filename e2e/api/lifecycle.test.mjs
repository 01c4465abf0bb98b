// Graceful shutdown: in-flight requests finish, new connections are refused, idle ones close.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectFails, eventually, launchKiln, parseResponses, rawConnection } from './lib/kiln.mjs';

async function inFlight(kiln) {
  const text = await (await fetch(`${kiln.url}/metrics`)).text();
  return Number(text.match(/^kiln_http_requests_in_flight (\d+)$/m)[1]);
}

describe('graceful shutdown', { timeout: 60000 }, () => {
  it('finishes a request that is in flight when SIGTERM arrives, refusing new connections', async (t) => {
    const kiln = await launchKiln({ env: { KILN_SERVER_SHUTDOWN_GRACE_MS: '10000' } });
    t.after(() => kiln.close('SIGKILL'));

    const conn = await rawConnection(kiln.port);
    t.after(() => conn.close());
    // The whole header and half of the 10-byte body.
    await conn.write('POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345');
    // Kiln has parsed the header once the request counts as in flight (the scrape itself is
    // the other one).
    await eventually(async () => (await inFlight(kiln)) >= 2, { timeoutMs: 5000, what: 'request in flight' });
    assert.equal(kiln.logs.some((e) => e.msg === 'request' && e.method === 'POST'), false, 'not answered yet');
    assert.equal(conn.received(), '', 'nothing sent back yet');

    kiln.proc.kill('SIGTERM');
    await kiln.waitForLog((e) => e.msg === 'shutting down', 5000);
    // The listener closes right after that line is logged.
    await eventually(() => connectFails(kiln.port), { timeoutMs: 2000, intervalMs: 20, what: 'new connections refused' });
    assert.equal(kiln.alive(), true, 'still running while the request is in flight');

    await conn.write('67890');
    const raw = await conn.until((data, closed) => closed, 10000);
    const [res, extra] = parseResponses(raw);
    assert.match(res.statusLine, /^HTTP\/1\.1 405 /);
    assert.equal(res.headers.connection, 'close');
    assert.equal(res.headers['content-type'], 'application/problem+json');
    assert.equal(JSON.parse(res.body).status, 405, 'the complete problem body arrived');
    assert.equal(res.body.length, Number(res.headers['content-length']));
    assert.equal(extra, undefined);

    // Exits once the request is done, not at the end of the 10 s grace period.
    assert.equal(await kiln.exitWithin(5000), 0);
    const logged = kiln.logs.find((e) => e.msg === 'request' && e.method === 'POST');
    assert.equal(logged?.status, 405, 'the in-flight request was logged');
    assert.ok(kiln.logs.some((e) => e.msg === 'stopped'));
  });

  it('closes idle keep-alive connections at once and exits well within the grace period', async (t) => {
    const kiln = await launchKiln({ env: { KILN_SERVER_SHUTDOWN_GRACE_MS: '10000' } });
    t.after(() => kiln.close('SIGKILL'));

    const conn = await rawConnection(kiln.port);
    t.after(() => conn.close());
    await conn.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await conn.until((data) => data.includes('{"status":"ok"}'));
    assert.equal(conn.isClosed(), false, 'the connection stays open (keep-alive)');

    const signalled = Date.now();
    kiln.proc.kill('SIGTERM');
    await conn.until((data, closed) => closed, 5000);
    assert.equal(await kiln.exitWithin(5000), 0, 'exits well within the 10 s grace period');
    assert.ok(Date.now() - signalled < 5000, `exited after ${Date.now() - signalled} ms`);
    assert.ok(kiln.logs.some((e) => e.msg === 'shutting down'));
    assert.ok(kiln.logs.some((e) => e.msg === 'stopped'));
  });
});
