// Reading the mail a kiln sent: the .eml files of its mail directory, and a small SMTP server
// that speaks the protocol for real (EHLO, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA, QUIT).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { eventually } from './kiln.mjs';

// Splits an RFC 5322 message into lower-cased headers and the body.
export function parseMail(text) {
  const end = text.indexOf('\r\n\r\n');
  const headers = {};
  for (const line of text.slice(0, end).split('\r\n')) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  return { headers, body: text.slice(end + 4), text };
}

export function mailFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.eml')).map((f) => path.join(dir, f));
}

// The token in a mailed link (…?token=…).
export function tokenOf(mail) {
  const m = /[?&]token=([A-Za-z0-9_-]+)/.exec(mail.body);
  if (!m) throw new Error(`no token link in:\n${mail.text}`);
  return m[1];
}

// Every message to `to` (whose subject matches) written so far.
export function mailsTo(dir, to, subject = /./) {
  return mailFiles(dir).map((f) => ({ file: f, ...parseMail(readFileSync(f, 'utf8')) }))
    .filter((m) => m.headers.to === to && subject.test(m.headers.subject));
}

// Waits for the `n`th message to `to` and returns it.
export async function waitForMail(kiln, to, subject = /./, n = 1) {
  return eventually(() => {
    const found = mailsTo(kiln.mailDir, to, subject);
    return found.length >= n ? found[n - 1] : null;
  }, { timeoutMs: 15000, what: `mail ${n} to ${to} (${subject})` });
}

// A minimal SMTP server. `reply(stage, n)` may return a reply line to refuse a stage (e.g.
// '451 try later' for 'data'); received messages and credentials are collected.
export function smtpServer({ reply = () => null } = {}) {
  const messages = [];
  const logins = [];
  let dataCount = 0;
  const server = net.createServer((socket) => {
    socket.setEncoding('latin1');
    let buffer = '';
    let inData = false;
    let pendingLogin = null;
    let envelope = { from: null, to: [] };
    const say = (line) => socket.write(`${line}\r\n`);
    say('220 test-smtp ESMTP ready');
    socket.on('data', (chunk) => {
      buffer += chunk;
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) return;
          const raw = buffer.slice(0, end + 2).replace(/^\.\./gm, '.');
          buffer = buffer.slice(end + 5);
          inData = false;
          dataCount += 1;
          const refusal = reply('data', dataCount);
          if (refusal) { say(refusal); continue; }
          messages.push({ ...envelope, ...parseMail(Buffer.from(raw, 'latin1').toString('utf8')) });
          say('250 2.0.0 queued');
          continue;
        }
        const nl = buffer.indexOf('\r\n');
        if (nl < 0) return;
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        const verb = line.split(' ')[0].toUpperCase();
        if (pendingLogin) {
          // AUTH PLAIN without an initial response, or AUTH LOGIN's user name and password.
          const text = Buffer.from(line, 'base64').toString('utf8');
          if (pendingLogin.mech === 'PLAIN') {
            const [, user, password] = text.split('\0');
            logins.push({ user, password });
          } else {
            pendingLogin.parts.push(text);
            if (pendingLogin.parts.length === 1) { say('334 UGFzc3dvcmQ6'); continue; }
            logins.push({ user: pendingLogin.parts[0], password: pendingLogin.parts[1] });
          }
          pendingLogin = null;
          say('235 2.7.0 authenticated');
        } else if (verb === 'EHLO' || verb === 'HELO') {
          socket.write('250-test-smtp\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n');
        } else if (verb === 'AUTH') {
          const [, mechanism, initial] = line.split(' ');
          const mech = mechanism.toUpperCase();
          if (mech === 'PLAIN' && initial) {
            const [, user, password] = Buffer.from(initial, 'base64').toString('utf8').split('\0');
            logins.push({ user, password });
            say('235 2.7.0 authenticated');
          } else if (mech === 'PLAIN') {
            pendingLogin = { mech, parts: [] };
            say('334 ');
          } else {
            pendingLogin = { mech, parts: initial ? [Buffer.from(initial, 'base64').toString('utf8')] : [] };
            say(pendingLogin.parts.length ? '334 UGFzc3dvcmQ6' : '334 VXNlcm5hbWU6');
          }
        } else if (verb === 'MAIL') {
          envelope = { from: line.slice(line.indexOf(':') + 1).trim(), to: [] };
          say('250 2.1.0 ok');
        } else if (verb === 'RCPT') {
          envelope.to.push(line.slice(line.indexOf(':') + 1).trim());
          say('250 2.1.5 ok');
        } else if (verb === 'DATA') {
          inData = true;
          say('354 end with <CRLF>.<CRLF>');
        } else if (verb === 'QUIT') {
          say('221 2.0.0 bye');
          socket.end();
          return;
        } else if (verb === 'RSET' || verb === 'NOOP') {
          say('250 ok');
        } else {
          say('502 5.5.2 command not implemented');
        }
      }
    });
    socket.on('error', () => {});
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({
      port: server.address().port,
      messages,
      logins,
      attempts: () => dataCount,
      close: () => new Promise((r) => server.close(r)),
    }));
  });
}
