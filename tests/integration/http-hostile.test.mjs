// Issue 9 items 1 and 10: hostile HTTP at both daemons' listening ports, over raw TCP sockets.
// libwebsockets 4.1.6 spun at 100 % CPU for good on two requests pipelined in one write when
// the second had a body (docs/security-http.md); each daemon must answer /healthz promptly
// afterwards and its CPU time must stay flat.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { startStack, token, SipWs, registerMsg, sleep } from './harness.mjs';

let stack;
let slowloris;
before(async () => {
  stack = await startStack();
  // A request that never ends, opened first and checked last: lws's timeout must close it.
  slowloris = rawSocket(stack.gwPort);
  await slowloris.connected;
  slowloris.sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: ');
  slowloris.openedAt = Date.now();
  slowloris.closed.then(() => { slowloris.closedAt = Date.now(); });
});
after(async () => {
  slowloris?.sock.destroy();
  const results = await stack.stop();
  for (const [name, r] of Object.entries(results))
    assert.deepEqual(r, { code: 0, sig: null }, `${name} must stop cleanly on SIGTERM`);
});

function rawSocket(port) {
  const sock = net.connect(port, '127.0.0.1');
  const s = { sock, data: Buffer.alloc(0) };
  s.connected = new Promise((r) => sock.on('connect', r));
  s.closed = new Promise((r) => sock.on('close', r));
  sock.on('data', (d) => { s.data = Buffer.concat([s.data, d]); });
  sock.on('error', () => {});
  return s;
}

/** Sends payload in one write; returns what came back before the server closed (or 2 s). */
async function exchange(port, payload, { waitMs = 2000 } = {}) {
  const s = rawSocket(port);
  await s.connected;
  s.sock.write(payload);
  await Promise.race([s.closed, sleep(waitMs)]);
  s.sock.destroy();
  return s.data.toString('latin1');
}

/** CPU ticks (1/100 s) the process used over ms milliseconds. */
async function cpuTicks(pid, ms = 1000) {
  const read = () => {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(f[11]) + Number(f[12]);
  };
  const a = read();
  await sleep(ms);
  return read() - a;
}

async function assertHealthy(url, pid, what) {
  const t0 = Date.now();
  const r = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
  assert.equal(r.status, 200, `${what}: /healthz answers`);
  assert.ok(Date.now() - t0 < 1000, `${what}: /healthz answers promptly`);
  const ticks = await cpuTicks(pid);
  assert.ok(ticks < 30, `${what}: the daemon is idle afterwards (${ticks} ticks of CPU in 1 s)`);
}

const gw = () => [stack.httpUrl, stack.gateway.proc.pid];
const waf = () => [stack.issuer, stack.waf.proc.pid];
const statuses = (text) => [...text.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));

async function registerWorks() {
  const c = await SipWs.open(stack.wsUrl);
  const rsp = await c.request(registerMsg({ callId: `hostile-${Date.now()}`, auth: `Bearer ${token(stack, 'alice')}` }));
  assert.equal(rsp.status, 200, rsp.text);
  c.close();
}

const form = (body) => `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

test('gateway: GET + POST with a body pipelined in one write', async () => {
  const out = await exchange(stack.gwPort,
    'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nPOST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc');
  assert.deepEqual(statuses(out), [200], 'the first is answered, the pipelined one is not parsed');
  assert.match(out, /connection: close/i);
  await assertHealthy(...gw(), 'gateway');
  await registerWorks();
});

test('gateway: two POSTs, GET + GET and GET + file pipelined', async () => {
  for (const payload of [
    'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcPOST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc',
    'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /vendor/jssip.js HTTP/1.1\r\nHost: x\r\n\r\nPOST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc',
  ]) {
    const out = await exchange(stack.gwPort, payload);
    assert.equal(statuses(out).length, 1, `one response to ${JSON.stringify(payload.slice(0, 30))}`);
  }
  await assertHealthy(...gw(), 'gateway');
});

test('gateway: a pipelined file request whose client does not read', async () => {
  const s = rawSocket(stack.gwPort);
  await s.connected;
  s.sock.pause(); // stop reading: the 1 MB file cannot be written out at once
  s.sock.write('GET /vendor/jssip.js HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await sleep(200);
  const ticks = await cpuTicks(stack.gateway.proc.pid);
  assert.ok(ticks < 30, `no busy loop while the file waits (${ticks} ticks)`);
  s.sock.destroy();
  await assertHealthy(...gw(), 'gateway');
});

test('gateway: a body where none is taken gets 413 and a closed connection', async () => {
  const out = await exchange(stack.gwPort, 'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello');
  assert.deepEqual(statuses(out), [413]);
  const chunked = await exchange(stack.gwPort, 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
  assert.deepEqual(statuses(chunked), [413]);
  await assertHealthy(...gw(), 'gateway');
});

test('gateway: huge headers and a flood of header lines are refused', async () => {
  const huge = await exchange(stack.gwPort, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
  assert.ok(!/HTTP\/1\.[01] 200/.test(huge), 'not served');
  const many = await exchange(stack.gwPort, `GET /healthz HTTP/1.1\r\nHost: x\r\n${'X-A: b\r\n'.repeat(5000)}\r\n`);
  assert.ok(!/HTTP\/1\.[01] 200/.test(many), 'not served');
  await assertHealthy(...gw(), 'gateway');
});

test('gateway: a handshake without the sip subprotocol gets HTTP 400 and a log line', async () => {
  for (const proto of ['', 'Sec-WebSocket-Protocol: xmpp\r\n', 'Sec-WebSocket-Protocol: http\r\n',
    'Sec-WebSocket-Protocol: imsgw-http-client\r\n']) {
    const out = await exchange(stack.gwPort, 'GET /sip HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n' +
      'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
      `${proto}\r\n`);
    assert.match(out, /^HTTP\/1\.[01] 400/, `refused with 400 when offering ${JSON.stringify(proto)}`);
    assert.match(out, /sip subprotocol/);
  }
  assert.match(stack.gateway.log, /handshake from 127\.0\.0\.1 refused: the sip subprotocol was not offered/);
  const ok = await SipWs.open(stack.wsUrl, ['xmpp', 'sip']);
  assert.equal(ok.ws.protocol, 'sip');
  ok.close();
});

test('WAF: two POST /token pipelined in one write', async () => {
  const one = `POST /token HTTP/1.1\r\nHost: x\r\n${form('grant_type=client_credentials')}`;
  const out = await exchange(stack.wafPort, one + one);
  // The WAF's poll loop sees the replay before the socket's POLLOUT: it closes without an answer
  // (RFC 9112 §9.3.2: a pipelining client retries); never two answers.
  assert.ok(statuses(out).length <= 1, 'the pipelined request is not parsed');
  const single = await exchange(stack.wafPort, one);
  assert.deepEqual(statuses(single), [401]);
  assert.match(single, /connection: close/i);
  await assertHealthy(...waf(), 'WAF');
});

test('WAF: GET + POST /healthz and two POST /authorize pipelined', async () => {
  let out = await exchange(stack.wafPort,
    'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nPOST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc');
  assert.deepEqual(statuses(out), [200]);
  await assertHealthy(...waf(), 'WAF');
  // a real sign-in form, so the first POST waits for the password workers meanwhile
  const page = await fetch(`${stack.issuer}/authorize?response_type=code&client_id=wic&redirect_uri=${encodeURIComponent('http://127.0.0.1:8080/')}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`);
  const html = await page.text();
  const cookie = (page.headers.get('set-cookie') || '').split(';')[0];
  const hidden = new URLSearchParams();
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
    hidden.append(m[1], m[2].replace(/&amp;/g, '&').replace(/&quot;/g, '"'));
  hidden.append('username', 'alice');
  hidden.append('password', 'wrong-password-1');
  const one = `POST /authorize HTTP/1.1\r\nHost: x\r\nCookie: ${cookie}\r\n${form(hidden.toString())}`;
  out = await exchange(stack.wafPort, one + one);
  assert.ok(statuses(out).length <= 1, 'at most the first is answered');
  await assertHealthy(...waf(), 'WAF');
});

test('WAF: huge headers are refused and the WAF goes on', async () => {
  const out = await exchange(stack.wafPort, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
  assert.ok(!/HTTP\/1\.[01] 200/.test(out));
  await assertHealthy(...waf(), 'WAF');
});

test('gateway: the never-ending request was closed by the HTTP timeout', async () => {
  await Promise.race([slowloris.closed, sleep(Math.max(0, 13000 - (Date.now() - slowloris.openedAt)))]);
  assert.ok(slowloris.closedAt, 'closed by the gateway');
  assert.ok(slowloris.closedAt - slowloris.openedAt < 13000, 'within the 10 s HTTP timeout');
  await assertHealthy(...gw(), 'gateway');
});
