// Problem shapes (RFC 9457), request ids, body limits, malformed HTTP, keep-alive, CORS.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { launchKiln, parseResponses, rawConnection, rawExchange } from './lib/kiln.mjs';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// `headers` is a fetch Headers or a plain object of lower-case names (raw responses).
// `requestId: false` skips the X-Request-Id checks (tested on their own for unparseable requests).
function assertProblem(status, headers, body, expected, { requestId = true } = {}) {
  const get = (name) => (typeof headers.get === 'function' ? headers.get(name) : headers[name] ?? null);
  assert.equal(status, expected);
  assert.equal(get('content-type'), 'application/problem+json');
  const problem = typeof body === 'string' ? JSON.parse(body) : body;
  assert.equal(problem.status, expected, 'the body status equals the HTTP status');
  // Every response carries X-Request-Id, and a problem quotes it.
  if (requestId) {
    assert.match(get('x-request-id') ?? '', /^[A-Za-z0-9._:-]{1,128}$/, `X-Request-Id header on the ${expected}`);
    assert.equal(problem.request_id, get('x-request-id'), 'request_id in the body equals the header');
  }
  for (const field of ['type', 'title', 'detail']) {
    assert.equal(typeof problem[field], 'string', `${field} is a string in ${JSON.stringify(problem)}`);
    assert.ok(problem[field].length > 0, `${field} is not empty`);
  }
  return problem;
}

async function fetchProblem(url, init, expected) {
  const res = await fetch(url, init);
  const problem = assertProblem(res.status, res.headers, await res.json(), expected);
  assert.equal(typeof problem.instance, 'string');
  return { res, problem };
}

describe('errors and protocol', { timeout: 60000 }, () => {
  let kiln;
  before(async () => { kiln = await launchKiln({ env: { KILN_SERVER_BODY_LIMIT: '2048' } }); });
  after(async () => { if (kiln) assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM'); });

  it('an unknown path is a 404 problem', async () => {
    const { problem } = await fetchProblem(`${kiln.url}/no/such/thing?x=1`, {}, 404);
    assert.equal(problem.instance, '/no/such/thing');
  });

  for (const method of ['POST', 'DELETE']) {
    it(`${method} /health is a 405 problem with Allow: GET`, async () => {
      const { res, problem } = await fetchProblem(`${kiln.url}/health`, { method }, 405);
      assert.equal(res.headers.get('allow'), 'GET');
      assert.equal(problem.instance, '/health');
    });
  }

  it('echoes a well-formed X-Request-Id in the header and the problem body', async () => {
    const id = 'client-abc.123:x_y-Z';
    const { res, problem } = await fetchProblem(`${kiln.url}/nowhere`, { headers: { 'X-Request-Id': id } }, 404);
    assert.equal(res.headers.get('x-request-id'), id);
    assert.equal(problem.request_id, id);
    const longest = 'a'.repeat(128);
    const ok = await fetch(`${kiln.url}/health`, { headers: { 'X-Request-Id': longest } });
    assert.equal(ok.headers.get('x-request-id'), longest, '128 characters are still accepted');
  });

  it('replaces a malformed X-Request-Id with a generated UUIDv7', async () => {
    for (const bad of ['has spaces in it', 'x'.repeat(129), 'x'.repeat(200), 'quote"d', 'semi;colon']) {
      const res = await fetch(`${kiln.url}/health`, { headers: { 'X-Request-Id': bad } });
      assert.equal(res.status, 200);
      const id = res.headers.get('x-request-id');
      assert.notEqual(id, bad);
      assert.match(id, UUID_V7, `replacement for ${JSON.stringify(bad)}`);
    }
  });

  it('generates a UUIDv7 X-Request-Id when absent, a different one per request', async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const { res, problem } = await fetchProblem(`${kiln.url}/missing`, {}, 404);
      ids.push(res.headers.get('x-request-id'));
      assert.equal(problem.request_id, ids.at(-1));
    }
    for (const id of ids) assert.match(id, UUID_V7);
    assert.equal(new Set(ids).size, ids.length, `all different: ${ids}`);
  });

  it('a Content-Length over the limit is a 413 problem, then the connection closes', async () => {
    const body = 'x'.repeat(4096);
    const raw = await rawExchange(kiln.port, // resolves only once the server closes the connection
      `POST /health HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    const [res, extra] = parseResponses(raw);
    assert.equal(extra, undefined, 'one response only');
    const problem = assertProblem(res.status, res.headers, res.body, 413);
    assert.equal(res.headers.connection, 'close');
    assert.match(problem.detail, /2048/, 'the detail names the limit');
    assert.equal(problem.instance, '/health');
  });

  it('a Content-Length over 1 MiB is a 413 problem too (without sending the body)', async () => {
    const raw = await rawExchange(kiln.port, 'POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n');
    const [res] = parseResponses(raw);
    assertProblem(res.status, res.headers, res.body, 413);
  });

  it('a chunked body that grows past the limit while being read is a 413 problem too', async () => {
    const chunk = 'y'.repeat(1500);
    const size = chunk.length.toString(16);
    const raw = await rawExchange(kiln.port,
      `POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${size}\r\n${chunk}\r\n${size}\r\n${chunk}\r\n0\r\n\r\n`);
    const [res] = parseResponses(raw);
    assertProblem(res.status, res.headers, res.body, 413);
    assert.equal(res.headers.connection, 'close');
  });

  it('a body within the limit reaches the router (here: 405)', async () => {
    await fetchProblem(`${kiln.url}/health`, { method: 'POST', body: 'z'.repeat(2000) }, 405);
  });

  const malformed = 'THIS IS NOT HTTP\r\n\r\n';
  const oversized = `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`;

  it('a malformed request line is a 400 problem, then the connection closes', async () => {
    const raw = await rawExchange(kiln.port, malformed); // resolves once the server closes
    const [res, extra] = parseResponses(raw);
    assert.equal(extra, undefined, 'one response only');
    assertProblem(res.status, res.headers, res.body, 400, { requestId: false });
    assert.equal(res.headers.connection, 'close');
  });

  it('a header section over 16 KiB is a 431 problem, then the connection closes', async () => {
    const raw = await rawExchange(kiln.port, oversized);
    const [res] = parseResponses(raw);
    assertProblem(res.status, res.headers, res.body, 431, { requestId: false });
    assert.equal(res.headers.connection, 'close');
  });

  it('the 400 and 431 answers to unparseable requests carry an X-Request-Id too', async () => {
    for (const bytes of [malformed, oversized]) {
      const [res] = parseResponses(await rawExchange(kiln.port, bytes));
      assert.match(res.headers['x-request-id'] ?? '', UUID_V7, `X-Request-Id on the ${res.statusLine}`);
      assert.equal(JSON.parse(res.body).request_id, res.headers['x-request-id'], 'request_id in the body');
    }
  });

  it('keeps a connection alive: two requests on one socket, one after the other', async () => {
    const conn = await rawConnection(kiln.port);
    try {
      await conn.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
      const first = await conn.until((data) => parseResponses(data).some((r) => r.body === '{"status":"ok"}'));
      assert.equal(conn.isClosed(), false, 'still open after the first response');
      assert.notEqual(parseResponses(first)[0].headers.connection, 'close');
      await conn.write('GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const raw = await conn.until((data, closed) => closed);
      const [a, b, extra] = parseResponses(raw);
      assert.equal(a.status, 200);
      assert.equal(b.status, 404);
      assert.equal(extra, undefined);
    } finally {
      conn.close();
    }
  });

  it('answers pipelined requests in order', async () => {
    const raw = await rawExchange(kiln.port,
      'GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const responses = parseResponses(raw);
    assert.deepEqual(responses.map((r) => r.status), [200, 404]);
  });

  it('is still healthy after all of the above, and sends no CORS headers by default', async () => {
    const res = await fetch(`${kiln.url}/health`, { headers: { Origin: 'https://app.example' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
    const pre = await fetch(`${kiln.url}/health`, {
      method: 'OPTIONS', headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'GET' },
    });
    assert.notEqual(pre.status, 204, 'no preflight answer when CORS is off');
    assert.equal(pre.headers.get('access-control-allow-origin'), null);
    assert.equal(kiln.alive(), true);
  });

  // Any JSON route shows the binding's answers; login is one that needs no token.
  const login = (body, contentType = 'application/json') => ({
    method: 'POST', headers: { 'Content-Type': contentType }, body,
  });

  it('malformed JSON is a 400 problem', async () => {
    await fetchProblem(`${kiln.url}/api/v1/auth/login`, login('{"email": '), 400);
  });

  it('a body that is not JSON by its Content-Type is a 415 problem', async () => {
    await fetchProblem(`${kiln.url}/api/v1/auth/login`, login('{}', 'text/plain'), 415);
  });

  it('field errors are one 422 problem with one entry per field', async () => {
    const { problem } = await fetchProblem(`${kiln.url}/api/v1/auth/login`,
      login(JSON.stringify({ email: 7, colour: 'blue' })), 422);
    const fields = problem.errors.map((e) => e.field).sort();
    assert.deepEqual(fields, ['colour', 'email', 'password']);
    for (const e of problem.errors) assert.equal(typeof e.message, 'string');
  });

  it('a JSON body over the limit is 413 and the connection stays usable for the next client', async () => {
    await fetchProblem(`${kiln.url}/api/v1/auth/login`, login(JSON.stringify({ password: 'x'.repeat(4096) })), 413);
    assert.equal((await fetch(`${kiln.url}/health`)).status, 200);
  });
});

describe('body limits above and at 1 MiB', { timeout: 60000 }, () => {
  let raised;
  let standard;
  before(async () => {
    raised = await launchKiln({ env: { KILN_SERVER_BODY_LIMIT: String(2 * 1024 * 1024) } });
    standard = await launchKiln(); // default limit: 1048576
  });
  after(async () => {
    const codes = await Promise.all([raised?.close(), standard?.close()]);
    for (const code of codes) if (code !== undefined) assert.equal(code, 0, 'kiln exits 0 on SIGTERM');
  });

  it('a 1.5 MB body under a 2 MiB limit reaches the router (here: 405)', async () => {
    await fetchProblem(`${raised.url}/health`, { method: 'POST', body: 'x'.repeat(1_500_000) }, 405);
  });

  it('a Content-Length over a 2 MiB limit is 413', async () => {
    const raw = await rawExchange(raised.port, 'POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 3000000\r\n\r\n');
    const [res] = parseResponses(raw);
    assertProblem(res.status, res.headers, res.body, 413);
  });

  it('at the default limit: exactly 1048576 bytes pass, one more is 413', async () => {
    await fetchProblem(`${standard.url}/health`, { method: 'POST', body: 'x'.repeat(1048576) }, 405);
    const raw = await rawExchange(standard.port, 'POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n');
    const [res] = parseResponses(raw);
    assertProblem(res.status, res.headers, res.body, 413);
  });
});

describe('CORS when enabled', { timeout: 60000 }, () => {
  let kiln;
  before(async () => {
    kiln = await launchKiln({ env: { KILN_CORS_ENABLED: 'true', KILN_CORS_ALLOW_ORIGINS: 'https://app.example' } });
  });
  after(async () => { if (kiln) assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM'); });

  it('allows the configured origin only', async () => {
    const ok = await fetch(`${kiln.url}/health`, { headers: { Origin: 'https://app.example' } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.match(ok.headers.get('vary') ?? '', /Origin/);
    const other = await fetch(`${kiln.url}/health`, { headers: { Origin: 'https://evil.example' } });
    assert.equal(other.status, 200);
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  });

  it('adds the CORS headers to problem responses too', async () => {
    const res = await fetch(`${kiln.url}/nowhere`, { headers: { Origin: 'https://app.example' } });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example');
  });

  it('answers a preflight with 204 and the allowed method', async () => {
    const res = await fetch(`${kiln.url}/health`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'GET' },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.equal(res.headers.get('access-control-allow-methods'), 'GET');
    assert.match(res.headers.get('access-control-allow-headers') ?? '', /Authorization/);
    assert.equal(res.headers.get('access-control-max-age'), '600');
  });

  it('gives a preflight from another origin no Access-Control-Allow-Origin', async () => {
    const res = await fetch(`${kiln.url}/health`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'GET' },
    });
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });
});
