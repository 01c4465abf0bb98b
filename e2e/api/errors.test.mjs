// Problem shapes (RFC 9457), request ids, body limits, malformed HTTP, keep-alive, CORS.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDatabase, dropDatabase, parseResponses, rawExchange, startKiln } from './lib/kiln.mjs';

function assertProblem(res, body, status) {
  assert.equal(res.status, status);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  assert.equal(body.status, status);
  assert.equal(typeof body.type, 'string');
  assert.equal(typeof body.title, 'string');
  assert.equal(typeof body.detail, 'string');
  assert.equal(typeof body.instance, 'string');
  assert.equal(body.request_id, res.headers.get('x-request-id'));
}

describe('errors and protocol', () => {
  let kiln;
  let database;
  before(async () => {
    database = createDatabase();
    kiln = await startKiln({ database, env: { KILN_SERVER_BODY_LIMIT: '2048' } });
  });
  after(async () => {
    if (kiln) assert.equal(await kiln.stop(), 0);
    if (database) dropDatabase(database);
  });

  it('an unknown path is a 404 problem', async () => {
    const res = await fetch(`${kiln.url}/no/such/thing`);
    const body = await res.json();
    assertProblem(res, body, 404);
    assert.equal(body.instance, '/no/such/thing');
  });

  it('a wrong method is a 405 problem with Allow', async () => {
    const res = await fetch(`${kiln.url}/health`, { method: 'DELETE' });
    assertProblem(res, await res.json(), 405);
    assert.equal(res.headers.get('allow'), 'GET');
  });

  it('echoes a well-formed X-Request-Id', async () => {
    const res = await fetch(`${kiln.url}/nowhere`, { headers: { 'X-Request-Id': 'client-abc.123:x_y-z' } });
    assert.equal(res.headers.get('x-request-id'), 'client-abc.123:x_y-z');
    assert.equal((await res.json()).request_id, 'client-abc.123:x_y-z');
  });

  it('replaces a malformed X-Request-Id and generates one when absent, unique per request', async () => {
    for (const bad of ['has spaces in it', 'x'.repeat(200), 'quote"d']) {
      const res = await fetch(`${kiln.url}/health`, { headers: { 'X-Request-Id': bad } });
      const id = res.headers.get('x-request-id');
      assert.notEqual(id, bad);
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    const a = (await fetch(`${kiln.url}/health`)).headers.get('x-request-id');
    const b = (await fetch(`${kiln.url}/health`)).headers.get('x-request-id');
    assert.ok(a && b && a !== b);
  });

  it('a body over the limit is a 413 problem, then the connection closes', async () => {
    const body = 'x'.repeat(4096);
    const raw = await rawExchange(kiln.port,
      `POST /health HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    const [res] = parseResponses(raw);
    assert.equal(res.status, 413);
    assert.equal(res.headers['content-type'], 'application/problem+json');
    assert.equal(res.headers.connection, 'close');
    assert.equal(JSON.parse(res.body).status, 413);
  });

  it('a chunked body that grows past the limit is a 413 problem too', async () => {
    const chunk = 'y'.repeat(1500);
    const size = chunk.length.toString(16);
    const raw = await rawExchange(kiln.port,
      `POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${size}\r\n${chunk}\r\n${size}\r\n${chunk}\r\n0\r\n\r\n`);
    const [res] = parseResponses(raw);
    assert.equal(res.status, 413);
  });

  it('a body within the limit reaches the router (here: 405)', async () => {
    const res = await fetch(`${kiln.url}/health`, { method: 'POST', body: 'z'.repeat(1000) });
    assert.equal(res.status, 405);
  });

  it('a malformed request line is a 400 problem, then the connection closes', async () => {
    const raw = await rawExchange(kiln.port, 'THIS IS NOT HTTP\r\n\r\n');
    const [res] = parseResponses(raw);
    assert.equal(res.status, 400);
    assert.equal(res.headers['content-type'], 'application/problem+json');
    assert.equal(JSON.parse(res.body).status, 400);
  });

  it('an oversized header is 431', async () => {
    const raw = await rawExchange(kiln.port, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`);
    const [res] = parseResponses(raw);
    assert.equal(res.status, 431);
  });

  it('keeps the connection alive across requests', async () => {
    const raw = await rawExchange(kiln.port,
      'GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const responses = parseResponses(raw);
    assert.equal(responses.length, 2);
    assert.equal(responses[0].status, 200);
    assert.equal(responses[1].status, 404);
  });

  it('is still healthy after all of the above, and sends no CORS headers by default', async () => {
    const res = await fetch(`${kiln.url}/health`, { headers: { Origin: 'https://app.example' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });

  it.todo('malformed JSON (400), wrong content type (415) and per-field 422 over HTTP: no JSON route yet (covered by unit tests in tests/unit/router_test.cpp)');
});

describe('CORS when enabled', () => {
  let kiln;
  let database;
  before(async () => {
    database = createDatabase();
    kiln = await startKiln({ database, env: { KILN_CORS_ENABLED: 'true', KILN_CORS_ALLOW_ORIGINS: 'https://app.example' } });
  });
  after(async () => {
    if (kiln) assert.equal(await kiln.stop(), 0);
    if (database) dropDatabase(database);
  });

  it('allows the configured origin only', async () => {
    const ok = await fetch(`${kiln.url}/health`, { headers: { Origin: 'https://app.example' } });
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.match(ok.headers.get('vary'), /Origin/);
    const other = await fetch(`${kiln.url}/health`, { headers: { Origin: 'https://evil.example' } });
    assert.equal(other.status, 200);
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  });

  it('answers a preflight with 204 and the allowed method', async () => {
    const res = await fetch(`${kiln.url}/health`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'GET' },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.equal(res.headers.get('access-control-allow-methods'), 'GET');
    assert.match(res.headers.get('access-control-allow-headers'), /Authorization/);
  });
});
