// Deadlines on every read: a client that dribbles its header (slowloris), stalls its body or
// idles on a keep-alive connection is cut off, and the server keeps serving others.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { launchKiln, rawConnection } from './lib/kiln.mjs';

describe('read deadlines', { timeout: 60000 }, () => {
  let kiln;
  before(async () => {
    kiln = await launchKiln({
      env: {
        KILN_SERVER_HEADER_TIMEOUT_MS: '1000',
        KILN_SERVER_READ_TIMEOUT_MS: '1000',
        KILN_SERVER_IDLE_TIMEOUT_MS: '1500',
      },
    });
  });
  after(async () => { if (kiln) assert.equal(await kiln.close(), 0); });

  async function closedWithin(conn, ms) {
    const started = Date.now();
    await conn.until((data, closed) => closed, ms);
    return Date.now() - started;
  }

  it('closes a connection whose header never completes, even while bytes keep trickling', async (t) => {
    const conn = await rawConnection(kiln.port);
    t.after(() => conn.close());
    await conn.write('GET /health HTTP/1.1\r\n');
    // One header byte every 200 ms would keep a per-read timeout alive forever.
    const drip = setInterval(() => { if (!conn.isClosed()) conn.write('X').catch(() => {}); }, 200);
    t.after(() => clearInterval(drip));
    const took = await closedWithin(conn, 8000);
    assert.ok(took < 5000, `closed after ${took} ms`);
    assert.equal(conn.received().includes('200 OK'), false);
  });

  it('closes a connection whose body stalls', async (t) => {
    const conn = await rawConnection(kiln.port);
    t.after(() => conn.close());
    await conn.write('POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly a little');
    const took = await closedWithin(conn, 8000);
    assert.ok(took < 5000, `closed after ${took} ms`);
  });

  it('closes an idle keep-alive connection after the idle timeout', async (t) => {
    const conn = await rawConnection(kiln.port);
    t.after(() => conn.close());
    await conn.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await conn.until((data) => data.includes('{"status":"ok"}'));
    const took = await closedWithin(conn, 8000);
    assert.ok(took >= 1000 && took < 6000, `closed after ${took} ms`);
  });

  it('still serves other clients', async () => {
    const res = await fetch(`${kiln.url}/health`);
    assert.equal(res.status, 200);
  });
});
