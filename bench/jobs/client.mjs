// bench/jobs/client.mjs: the HTTP side of bench/jobs/run.sh — enqueues over the API and listens
// to GET /api/v1/events like a dashboard would. Node's own modules only.
//
//   node client.mjs pickup      URL TOKEN SAMPLES OUT   one system.noop at a time, each after the
//                                                       previous one succeeded; OUT: "job id<TAB>
//                                                       µs when the enqueue's reply arrived"
//   node client.mjs progress    URL TOKEN JOBS MS OUT   JOBS system.sleep {ms: MS} at once; OUT:
//                                                       "event_id<TAB>arrival µs" per job.progress
//   node client.mjs subscribers URL TOKEN COUNT OUT     opens COUNT event streams and holds them;
//                                                       see subscribers() for the signals
//
// Arrival times are wall-clock microseconds (performance.timeOrigin + performance.now()), to be
// compared with PostgreSQL's timestamps on the same machine. Progress lines go to stderr; the
// exit status is 0 only when everything expected arrived before the deadline.
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
const log = (msg) => process.stderr.write(`client: ${msg}\n`);
const fail = (msg) => { log(msg); process.exit(1); };

async function api(base, token, method, path, body) {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

// One event stream: calls onEvent({id, type, data, at}) per event; `at` is when the chunk that
// completed it arrived. Resolves once the response head arrived (the stream is open).
function openStream(base, token, onEvent, onEnd) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}/api/v1/events`, {
      agent: false,
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`GET /events: ${res.statusCode}`));
        res.resume();
        return;
      }
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk) => {
        const at = nowUs();
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const e = { at, data: '' };
          for (const line of frame.split('\n')) {
            const colon = line.indexOf(':');
            if (colon <= 0) continue; // comments (keep-alive) and blank lines
            const field = line.slice(0, colon);
            const value = line.slice(colon + 1).replace(/^ /, '');
            if (field === 'id') e.id = value;
            else if (field === 'event') e.type = value;
            else if (field === 'data') e.data += value;
          }
          if (e.type) onEvent(e);
        }
      });
      res.on('end', () => onEnd?.('ended'));
      res.on('error', (err) => onEnd?.(err.message));
      resolve(req);
    });
    req.on('error', (err) => { reject(err); onEnd?.(err.message); });
  });
}

function deadline(ms, what) {
  return setTimeout(() => fail(`${what}: not done within ${ms} ms`), ms).unref();
}

// Enqueue → handler start on an idle system: one job in flight at a time, a short random pause
// between jobs so that the worker is idle (waiting for a notification) when each one arrives.
async function pickup(base, token, samples, out) {
  const succeeded = new Map(); // job id → resolve
  const done = new Set();
  const stream = await openStream(base, token, (e) => {
    if (e.type !== 'job.succeeded') return;
    const id = JSON.parse(e.data).job_id;
    done.add(id);
    succeeded.get(id)?.();
  });
  const timer = deadline(60000 + samples * 200, 'pickup');
  const ids = [];
  for (let i = 0; i < samples; i++) {
    const job = await api(base, token, 'POST', '/jobs', { kind: 'system.noop' });
    ids.push(`${job.id}\t${nowUs()}`);
    if (!done.has(job.id)) await new Promise((resolve) => succeeded.set(job.id, resolve));
    await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 10));
  }
  clearTimeout(timer);
  stream.destroy();
  writeFileSync(out, ids.join('\n') + '\n');
  log(`pickup: ${samples} jobs`);
}

// Worker → SSE client for progress events: JOBS sleeping jobs reporting progress; every
// job.progress event's arrival time.
async function progress(base, token, jobs, ms, out) {
  const rows = [];
  const finished = new Set();
  let allDone;
  const over = new Promise((resolve) => { allDone = resolve; });
  const mine = new Set();
  const stream = await openStream(base, token, (e) => {
    if (e.type === 'job.progress') rows.push(`${e.id}\t${e.at}`);
    if (e.type === 'job.succeeded') {
      finished.add(JSON.parse(e.data).job_id);
      if (mine.size === jobs && [...mine].every((id) => finished.has(id))) allDone();
    }
  });
  const timer = deadline(60000 + ms * jobs, 'progress');
  for (let i = 0; i < jobs; i++) mine.add((await api(base, token, 'POST', '/jobs', { kind: 'system.sleep', args: { ms } })).id);
  if ([...mine].every((id) => finished.has(id))) allDone();
  await over;
  clearTimeout(timer);
  stream.destroy();
  writeFileSync(out, rows.join('\n') + '\n');
  log(`progress: ${rows.length} events from ${jobs} jobs`);
}

// COUNT streams held open. Writes to OUT: "OPEN n µs" once all are open (n, time taken); then on
// SIGUSR2 enqueues one system.noop and writes "FANOUT n p50 p99 max first_min first_p50
// first_max replied" once every stream got a job.succeeded event: µs from the enqueue request to
// each stream's arrival of it, then of the job's first event (job.available; the workspace runs
// no other job meanwhile), then to the enqueue's reply (-1: not yet); on SIGTERM closes them all
// and exits. A stream that ends early is an error.
async function subscribers(base, token, count, out) {
  const lines = [];
  const emit = (line) => { lines.push(line); writeFileSync(out, lines.join('\n') + '\n'); };
  const streams = [];
  let targetAt = 0;
  let repliedAt = null; // µs from the enqueue request to its reply
  const arrivals = [];
  const firsts = []; // job.available, the job's first event
  let closing = false;
  const onEnd = (why) => { if (!closing) fail(`a stream ended early: ${why}`); };
  const started = nowUs();
  let next = 0;
  const timer = deadline(120000, 'opening streams');
  const opener = async () => {
    while (next < count) {
      next++;
      const got = { seen: false };
      streams.push(await openStream(base, token, (e) => {
        if (e.type === 'job.available' && firsts.length < count) firsts.push(e.at - targetAt);
        if (e.type !== 'job.succeeded' || got.seen) return;
        got.seen = true;
        arrivals.push(e.at - targetAt);
        if (arrivals.length === count) {
          const pct = (list, p) => {
            list.sort((a, b) => a - b);
            return list[Math.min(list.length - 1, Math.max(0, Math.ceil((p / 100) * list.length) - 1))];
          };
          emit(`FANOUT ${count} ${pct(arrivals, 50)} ${pct(arrivals, 99)} ${pct(arrivals, 100)} ` +
            `${pct(firsts, 0)} ${pct(firsts, 50)} ${pct(firsts, 100)} ${repliedAt ?? -1}`);
        }
      }, onEnd));
    }
  };
  await Promise.all(Array.from({ length: 200 }, opener));
  clearTimeout(timer);
  emit(`OPEN ${streams.length} ${nowUs() - started}`);
  log(`subscribers: ${streams.length} streams open`);
  process.on('SIGUSR2', async () => {
    deadline(60000, 'fan-out');
    targetAt = nowUs();
    await api(base, token, 'POST', '/jobs', { kind: 'system.noop' });
    repliedAt = nowUs() - targetAt;
  });
  process.on('SIGTERM', () => {
    closing = true;
    for (const s of streams) s.destroy();
    process.exit(0);
  });
  setInterval(() => {}, 1 << 30); // stay alive until SIGTERM
}

const [mode, base, token, ...rest] = process.argv.slice(2);
const modes = {
  pickup: () => pickup(base, token, Number(rest[0]), rest[1]),
  progress: () => progress(base, token, Number(rest[0]), Number(rest[1]), rest[2]),
  subscribers: () => subscribers(base, token, Number(rest[0]), rest[1]),
};
if (!modes[mode] || !base || !token) fail('usage: see the head of bench/jobs/client.mjs');
modes[mode]().catch((err) => fail(err.stack ?? String(err)));
