// /health, /ready, /metrics, /openapi.json and the docs pages of a real kiln.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { eventually, launchKiln, parseResponses, rawExchange } from './lib/kiln.mjs';

describe('system routes', { timeout: 60000 }, () => {
  let kiln;
  before(async () => { kiln = await launchKiln(); });
  after(async () => { if (kiln) assert.equal(await kiln.close(), 0, 'kiln exits 0 on SIGTERM'); });

  it('raises its soft open file limit to the hard one (staged blobs, sockets, connections)', async (t) => {
    const limitsOf = (pid) => {
      const m = readFileSync(`/proc/${pid}/limits`, 'utf8').match(/Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/);
      return { soft: m[1], hard: m[2] };
    };
    const { hard } = limitsOf(process.pid);
    if (hard !== 'unlimited' && Number(hard) <= 256) return t.skip(`the hard limit here is ${hard}`);
    const low = await launchKiln({ launcher: ['prlimit', '--nofile=256:'] });
    try {
      const limits = limitsOf(low.proc.pid);
      assert.equal(limits.hard, hard);
      assert.equal(limits.soft, hard, 'started with a soft limit of 256');
    } finally {
      assert.equal(await low.close(), 0);
    }
  });

  it('GET /health answers 200 JSON', async () => {
    const res = await fetch(`${kiln.url}/health`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    assert.deepEqual(await res.json(), { status: 'ok' });
  });

  it('GET /ready answers 200 with the schema version', async () => {
    const res = await fetch(`${kiln.url}/ready`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    const body = await res.json();
    assert.equal(body.status, 'ready');
    assert.ok(Number.isInteger(body.schema_version) && body.schema_version >= 1, JSON.stringify(body));
  });

  it('HEAD /health sends the headers with the Content-Length of GET, and no body', async () => {
    const raw = await rawExchange(kiln.port, 'HEAD /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const responses = parseResponses(raw, { bodyless: true });
    assert.equal(responses.length, 1, `one response and nothing after it; got:\n${raw}`);
    assert.equal(responses[0].status, 200);
    assert.equal(responses[0].headers['content-length'], String('{"status":"ok"}'.length));
    assert.ok(raw.endsWith('\r\n\r\n'), 'no body bytes after the header');
  });

  it('GET /metrics exposes request counters that move, histograms, pool and build gauges', async () => {
    const scrape = async () => {
      const res = await fetch(`${kiln.url}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type'), /^text\/plain/);
      const text = await res.text();
      const m = text.match(/^kiln_http_requests_total\{method="GET",route="\/health",status="200"\} (\d+)$/m);
      return { text, health: m ? Number(m[1]) : 0 };
    };
    const first = await scrape();
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${kiln.url}/health`)).status, 200);
    // The counter is bumped once the response is written, so wait for it rather than assume.
    const later = await eventually(async () => {
      const s = await scrape();
      return s.health >= first.health + 3 && s;
    }, { timeoutMs: 5000, what: '/health counter +3' });
    assert.equal(later.health, first.health + 3, 'exactly the three requests were counted');
    assert.match(later.text, /# TYPE kiln_http_requests_total counter/);
    assert.match(later.text, /# TYPE kiln_http_request_duration_seconds histogram/);
    assert.match(later.text, /^kiln_http_request_duration_seconds_bucket\{[^}]*route="\/health"[^}]*le="\+Inf"[^}]*\} \d+$/m);
    assert.match(later.text, /^kiln_http_requests_in_flight \d+$/m);
    for (const gauge of ['kiln_db_pool_connections', 'kiln_db_pool_in_use', 'kiln_db_pool_waiters']) {
      assert.match(later.text, new RegExp(`^${gauge} \\d+$`, 'm'), gauge);
    }
    assert.match(later.text, /^kiln_build_info\{version="[^"]+"[^}]*\} 1$/m);
  });

  it('GET /openapi.json is an OpenAPI 3.1 document listing every route', async () => {
    const res = await fetch(`${kiln.url}/openapi.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    const doc = await res.json();
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(typeof doc.info?.title, 'string');
    assert.ok(doc.info.title.length > 0);
    assert.equal(typeof doc.info.version, 'string');
    for (const p of ['/health', '/ready', '/metrics', '/openapi.json']) {
      assert.ok(doc.paths?.[p]?.get, `GET ${p} is documented`);
    }
    const methods = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);
    const ids = new Set();
    for (const [p, item] of Object.entries(doc.paths)) {
      const ops = Object.entries(item).filter(([k]) => methods.has(k));
      assert.ok(ops.length > 0, `${p} has operations`);
      for (const [method, op] of ops) {
        assert.ok(op.responses && Object.keys(op.responses).length > 0, `${method} ${p} has responses`);
        assert.equal(typeof op.operationId, 'string', `${method} ${p} has an operationId`);
        assert.ok(!ids.has(op.operationId), `operationId ${op.operationId} is unique`);
        ids.add(op.operationId);
      }
    }
  });

  const pages = [
    ['/docs', ['/docs/swagger-ui-bundle.js', '/docs/swagger-ui.css', '/docs/init.js']],
    ['/redoc', ['/redoc/redoc.standalone.js']],
  ];
  for (const [page, expected] of pages) {
    it(`${page} serves an HTML page whose scripts and styles all come from kiln`, async () => {
      const res = await fetch(`${kiln.url}${page}`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type'), /^text\/html/);
      const html = await res.text();
      const refs = [...html.matchAll(/<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*["']([^"']+)["']/gi)].map((m) => m[1]);
      for (const asset of expected) assert.ok(refs.includes(asset), `${page} references ${asset} (found ${refs})`);
      for (const ref of refs) {
        assert.doesNotMatch(ref, /^(https?:)?\/\//, `${page} loads nothing from another host: ${ref}`);
        const a = await fetch(new URL(ref, `${kiln.url}${page}`));
        assert.equal(a.status, 200, ref);
        const type = a.headers.get('content-type');
        if (ref.endsWith('.css')) assert.match(type, /^text\/css/, ref);
        else if (ref.endsWith('.js')) assert.match(type, /^(text|application)\/javascript/, ref);
        assert.ok((await a.arrayBuffer()).byteLength > 10, `${ref} has content`);
      }
    });
  }

  it('GET / redirects to the API reference', async () => {
    const res = await fetch(`${kiln.url}/`, { redirect: 'manual' });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), '/docs');
  });

  it('logs every request as one JSON line with method, path, status, duration and request id', async () => {
    const res = await fetch(`${kiln.url}/health?probe=1`, { headers: { 'X-Request-Id': 'log-check-1' } });
    assert.equal(res.status, 200);
    const line = await kiln.waitForLog((e) => e.msg === 'request' && e.request_id === 'log-check-1', 5000);
    assert.equal(line.method, 'GET');
    assert.equal(line.path, '/health');
    assert.equal(line.status, 200);
    assert.equal(typeof line.duration_ms, 'number');
    assert.ok(line.bytes > 0, 'bytes written');
    assert.equal(line.level, 'info');
    assert.match(line.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  });
});
