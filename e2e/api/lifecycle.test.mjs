// Graceful shutdown: in-flight requests finish, new connections are refused, idle ones close.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createDatabase, dropDatabase, parseResponses, rawConnection, startKiln } from './lib/kiln.mjs';

function connectFails(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(false); });
    s.on('error', () => resolve(true));
  });
}

describe('graceful shutdown', () => {
  it('finishes a request that is in flight when SIGTERM arrives', async (t) => {
    const database = createDatabase();
    t.after(() => dropDatabase(database));
    const kiln = await startKiln({ database, env: { KILN_SERVER_SHUTDOWN_GRACE_MS: '10000' } });
    t.after(() => kiln.stop('SIGKILL'));

    const conn = await rawConnection(kiln.port);
    // The header and half the body: the server has started on this request.
    await conn.write('POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345');
    // Make sure kiln has read the header before the signal (a /metrics scrape shows it in flight).
    const inFlight = async () => {
      const text = await (await fetch(`${kiln.url}/metrics`)).text();
      return Number(text.match(/^kiln_http_requests_in_flight (\d+)$/m)[1]);
    };
    for (let i = 0; (await inFlight()) < 2 && i < 100; i++) await new Promise((r) => setImmediate(r));
    assert.ok((await inFlight()) >= 2, 'the half-sent request is in flight');

    kiln.proc.kill('SIGTERM');
    await kiln.waitForLog((e) => e.msg === 'shutting down');
    assert.equal(await connectFails(kiln.port), true, 'no new connections once draining');

    await conn.write('67890');
    const raw = await conn.until((data, closed) => closed, 10000);
    const [res] = parseResponses(raw);
    assert.equal(res.status, 405, 'the in-flight request got its full answer');
    assert.equal(res.headers.connection, 'close');
    assert.equal(JSON.parse(res.body).status, 405);
    assert.equal(await kiln.exited, 0);
  });

  it('closes idle keep-alive connections at once and exits well within the grace period', async (t) => {
    const database = createDatabase();
    t.after(() => dropDatabase(database));
    const kiln = await startKiln({ database, env: { KILN_SERVER_SHUTDOWN_GRACE_MS: '20000' } });
    t.after(() => kiln.stop('SIGKILL'));

    const conn = await rawConnection(kiln.port);
    await conn.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await conn.until((data) => data.includes('{"status":"ok"}'));
    const started = Date.now();
    kiln.proc.kill('SIGTERM');
    await conn.until((data, closed) => closed, 5000);
    assert.equal(await kiln.exited, 0);
    assert.ok(Date.now() - started < 5000, `exited after ${Date.now() - started} ms`);
    assert.ok(kiln.logs.some((e) => e.msg === 'stopped'));
  });
});
