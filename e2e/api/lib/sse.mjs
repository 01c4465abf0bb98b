// A Server-Sent Events client for the tests: reads a stream into parsed events (data as JSON)
// until closed.
import { eventually } from './kiln.mjs';

export function sse(url, headers = {}) {
  const controller = new AbortController();
  const events = [];
  let status;
  let contentType;
  const ready = (async () => {
    const res = await fetch(url, { headers, signal: controller.signal });
    status = res.status;
    contentType = res.headers.get('content-type');
    if (status !== 200) return;
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body) {
        buf += decoder.decode(chunk, { stream: true });
        let end;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const e = {};
          for (const line of frame.split('\n')) {
            if (line.startsWith(':')) continue;
            const i = line.indexOf(':');
            const k = line.slice(0, i);
            const v = line.slice(i + 1).replace(/^ /, '');
            if (k === 'data') e.data = (e.data ? `${e.data}\n` : '') + v;
            else e[k] = v;
          }
          if (e.event) events.push({ ...e, data: JSON.parse(e.data) });
        }
      }
    } catch (err) {
      if (err.name !== 'AbortError') throw err;
    }
  })();
  return {
    events,
    status: () => status,
    contentType: () => contentType,
    // Resolves once the response's headers arrived (the server subscribed before sending them).
    opened: () => eventually(() => status, { what: 'the stream to open', timeoutMs: 10000, intervalMs: 10 }),
    close: () => { controller.abort(); return ready.catch(() => {}); },
    until: (pred, what) => eventually(() => pred(events), { what, timeoutMs: 20000, intervalMs: 20 }),
  };
}
