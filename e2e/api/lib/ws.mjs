// A WebSocket client for the black-box tests of /api/v1/ws. `ws` comes from web/node_modules
// (a devDependency installed by scripts/install-deps): Node 20 has no WebSocket client without
// --experimental-websocket.
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../../web/package.json', import.meta.url));
const WebSocket = require('ws');

// Opens a socket. Resolves once open with a handle that records every message (JSON-parsed) and
// the close; rejects with {status, headers, body} when the server refuses the upgrade.
export function openSocket(url, { headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const messages = [];
    const listeners = new Set();
    let closed = null;
    let settled = false;
    const notify = () => { for (const l of [...listeners]) l(); };
    ws.on('message', (data, isBinary) => {
      messages.push(isBinary ? { binary: data } : JSON.parse(data.toString('utf8')));
      notify();
    });
    ws.on('close', (code, reason) => {
      closed = { code, reason: reason.toString('utf8') };
      notify();
    });
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => {
        settled = true;
        let json;
        try { json = JSON.parse(body); } catch { json = undefined; }
        reject(Object.assign(new Error(`upgrade refused: ${res.statusCode} ${body}`),
          { status: res.statusCode, headers: res.headers, text: body, body: json }));
        req.destroy();
      });
    });
    ws.on('error', (e) => { if (!settled) { settled = true; reject(e); } });
    ws.on('open', () => {
      settled = true;
      const socket = {
        ws,
        messages,
        closed: () => closed,
        // Sends an object as JSON text, or a string / Buffer as is.
        send: (m) => ws.send(typeof m === 'string' || Buffer.isBuffer(m) ? m : JSON.stringify(m)),
        // Resolves with the messages once `pred(messages, closed)` holds; rejects after `ms`.
        until(pred, what = 'condition', ms = 20000) {
          return new Promise((res, rej) => {
            const check = () => {
              if (!pred(messages, closed)) return false;
              listeners.delete(check);
              clearTimeout(timer);
              res(messages);
              return true;
            };
            const timer = setTimeout(() => {
              listeners.delete(check);
              rej(new Error(`${what} not seen within ${ms} ms (closed: ${JSON.stringify(closed)}); got:\n` +
                messages.map((m) => JSON.stringify(m)).join('\n')));
            }, ms);
            if (!check()) listeners.add(check);
          });
        },
        // The first message after index `from` that matches `pred`.
        next(pred, what, from = 0, ms = 20000) {
          return socket.until((ms_) => ms_.slice(from).some(pred), what, ms)
            .then(() => messages.slice(from).find(pred));
        },
        whenClosed: (ms = 20000) => socket.until((_, c) => c !== null, 'the close', ms).then(() => closed),
        close: () => { ws.close(1000); return socket.whenClosed(); },
      };
      resolve(socket);
    });
  });
}
