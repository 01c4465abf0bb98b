// /health, /ready, /metrics, /openapi.json and the docs pages of a real kiln.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDatabase, dropDatabase, rawExchange, parseResponses, startKiln } from './lib/kiln.mjs';

describe('system routes', () => {
  let kiln;
  let database;
  before(async () => {
    database = createDatabase();
    kiln = await startKiln({ database });
  });
  after(async () => {
    if (kiln) assert.equal(await kiln.stop(), 0);
    if (database) dropDatabase(database);
  });

  it('GET /health answers 200 JSON without touching the database', async () => {
    const res = await fetch(`${kiln.url}/health`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    assert.deepEqual(await res.json(), { status: 'ok' });
  });

  it('GET /ready answers 200 with the schema version', async () => {
    const res = await fetch(`${kiln.url}/ready`);
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.status, 'ready');
    assert.ok(Number.isInteger(body.schema_version) && body.schema_version >= 1, JSON.stringify(body));
  });

  it('HEAD /health sends the headers and no body', async () => {
    const [res] = parseResponses(await rawExchange(kiln.port,
      'HEAD /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], '15');
    assert.equal(res.body, '');
  });

  it('GET /metrics exposes request counters that move, histograms, pool and build gauges', async () => {
    const counter = async () => {
      const text = await (await fetch(`${kiln.url}/metrics`)).text();
      const m = text.match(/^kiln_http_requests_total\{method="GET",route="\/health",status="200"\} (\d+)$/m);
      return { text, n: m ? Number(m[1]) : 0 };
    };
    const before = await counter();
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${kiln.url}/health`)).status, 200);
    const after = await counter();
    assert.equal(after.n, before.n + 3);
    const res = await fetch(`${kiln.url}/metrics`);
    assert.match(res.headers.get('content-type'), /^text\/plain/);
    for (const name of ['kiln_http_request_duration_seconds_bucket', 'kiln_http_requests_in_flight',
      'kiln_db_pool_connections', 'kiln_db_pool_in_use', 'kiln_db_pool_waiters', 'kiln_build_info']) {
      assert.match(after.text, new RegExp(`^${name}[{ ]`, 'm'), name);
    }
    assert.match(after.text, /# TYPE kiln_http_request_duration_seconds histogram/);
  });

  it('GET /openapi.json is an OpenAPI 3.1 document listing every route', async () => {
    const res = await fetch(`${kiln.url}/openapi.json`);
    assert.equal(res.status, 200);
    const doc = await res.json();
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(typeof doc.info.title, 'string');
    for (const p of ['/health', '/ready', '/metrics', '/openapi.json']) {
      assert.ok(doc.paths[p]?.get, `missing GET ${p}`);
    }
    const ids = new Set();
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        assert.ok(op.summary, `${method} ${p} has a summary`);
        assert.ok(op.responses && Object.keys(op.responses).length > 0, `${method} ${p} has responses`);
        assert.ok(!ids.has(op.operationId), `operationId ${op.operationId} is unique`);
        ids.add(op.operationId);
      }
    }
    assert.ok(doc.components.schemas.Problem, 'Problem schema');
  });

  for (const [page, assets] of [['/docs', ['/docs/swagger-ui-bundle.js', '/docs/swagger-ui.css', '/docs/init.js']],
    ['/redoc', ['/redoc/redoc.standalone.js']]]) {
    it(`${page} serves its page and assets from the binary, no CDN`, async () => {
      const res = await fetch(`${kiln.url}${page}`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type'), /^text\/html/);
      const html = await res.text();
      assert.doesNotMatch(html, /(src|href)="https?:/);
      for (const asset of assets) {
        assert.ok(html.includes(asset), `${page} references ${asset}`);
        const a = await fetch(`${kiln.url}${asset}`);
        assert.equal(a.status, 200, asset);
        assert.match(a.headers.get('content-type'), asset.endsWith('.css') ? /^text\/css/ : /^text\/javascript/);
        assert.ok((await a.arrayBuffer()).byteLength > 10, `${asset} has content`);
      }
    });
  }

  it('GET / redirects to the API reference', async () => {
    const res = await fetch(`${kiln.url}/`, { redirect: 'manual' });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), '/docs');
  });

  it('logs every request as one JSON line with method, path, status, duration and request id', async () => {
    const res = await fetch(`${kiln.url}/health`, { headers: { 'X-Request-Id': 'log-check-1' } });
    assert.equal(res.status, 200);
    const line = await kiln.waitForLog((e) => e.msg === 'request' && e.request_id === 'log-check-1', 5000);
    assert.equal(line.method, 'GET');
    assert.equal(line.path, '/health');
    assert.equal(line.status, 200);
    assert.equal(typeof line.duration_ms, 'number');
    assert.equal(line.level, 'info');
    assert.match(line.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);
  });
});
