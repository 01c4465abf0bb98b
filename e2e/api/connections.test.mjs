// server.max_connections: connections beyond the cap are closed at once, and a slot freed by a
// client that leaves is usable again.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, launchKiln, rawConnection } from './lib/kiln.mjs';

describe('connection cap', { timeout: 60000 }, () => {
  let kiln;
  before(async () => {
    kiln = await launchKiln({ env: { KILN_SERVER_MAX_CONNECTIONS: '2' } });
  });
  after(async () => { if (kiln) assert.equal(await kiln.close(), 0); });

  async function served(conn) {
    await conn.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await conn.until((data) => data.includes('{"status":"ok"}'));
  }

  it('closes a third connection without an answer while two are open, then serves again', async (t) => {
    const first = await rawConnection(kiln.port);
    const second = await rawConnection(kiln.port);
    t.after(() => { first.close(); second.close(); });
    await served(first);
    await served(second);

    const third = await rawConnection(kiln.port);
    t.after(() => third.close());
    third.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n').catch(() => {});
    await third.until((data, closed) => closed, 5000);
    assert.equal(third.received(), '', 'closed without a response');

    first.close();
    // The server notices the departure asynchronously; a new client gets in once it has.
    await eventually(async () => {
      const next = await rawConnection(kiln.port);
      try {
        next.write('GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n').catch(() => {});
        const data = await next.until((d, closed) => closed, 5000);
        return data.includes('{"status":"ok"}');
      } finally {
        next.close();
      }
    }, { timeoutMs: 10000, what: 'a freed slot is usable' });
  });
});
