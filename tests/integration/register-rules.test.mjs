// Issue 4: registration to the letter of RFC 7118 / 6455 / 5626 / 3261 §16.3 / 8898 at the
// gateway, over real sockets against the real daemons.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { startStack, token, SipWs, registerMsg, stubRegisterCount, stubRegisterCountSettled, stubRegistersReach, sleep } from './harness.mjs';

let stack;
before(async () => { stack = await startStack(); });
after(async () => {
  const results = await stack.stop();
  for (const [name, r] of Object.entries(results))
    assert.deepEqual(r, { code: 0, sig: null }, `${name} must stop cleanly on SIGTERM`);
});

const metric = async (name) => {
  const text = await (await fetch(`${stack.httpUrl}/metrics`)).text();
  const m = new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} ([0-9.]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
};

/** A raw WebSocket handshake on a TCP socket, so tests can send frames a library would refuse. */
async function rawWs(extraHeaders = '') {
  const sock = net.connect(stack.gwPort, '127.0.0.1');
  await new Promise((r) => sock.on('connect', r));
  const key = crypto.randomBytes(16).toString('base64');
  sock.write(`GET /sip HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n${extraHeaders}\r\n`);
  let buf = Buffer.alloc(0);
  const closed = new Promise((resolve) => sock.on('close', resolve));
  sock.on('data', (d) => { buf = Buffer.concat([buf, d]); });
  sock.on('error', () => {});
  for (let i = 0; i < 100 && !buf.includes('\r\n\r\n'); i++) await sleep(20);
  const head = buf.toString('latin1').split('\r\n\r\n')[0];
  buf = buf.subarray(head.length + 4);
  return { sock, head, closed, data: () => buf, key };
}

/** One client frame; masked unless told otherwise. */
function frame(opcode, payload, { fin = true, mask = true } = {}) {
  const len = payload.length;
  const hdr = [((fin ? 0x80 : 0) | opcode)];
  if (len < 126) hdr.push((mask ? 0x80 : 0) | len);
  else { hdr.push((mask ? 0x80 : 0) | 126, len >> 8, len & 255); }
  const key = crypto.randomBytes(4);
  const body = Buffer.from(payload);
  if (mask) for (let i = 0; i < body.length; i++) body[i] ^= key[i % 4];
  return Buffer.concat([Buffer.from(hdr), mask ? key : Buffer.alloc(0), body]);
}

function closeCode(buf) {
  // server frames are unmasked: 0x88, len, code(2)
  const i = buf.indexOf(0x88);
  return i >= 0 && buf.length >= i + 4 ? buf.readUInt16BE(i + 2) : null;
}

test('T1: the 101 echoes sip and carries the RFC 6455 accept value', async () => {
  const ws = await rawWs();
  assert.match(ws.head, /^HTTP\/1\.1 101/);
  assert.match(ws.head, /sec-websocket-protocol: sip/i);
  const accept = crypto.createHash('sha1').update(ws.key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  assert.match(ws.head, new RegExp(`sec-websocket-accept: ${accept.replace(/[+/]/g, '\\$&')}`, 'i'));
  ws.sock.destroy();
});

test('an Origin that is not allowed gets HTTP 403; an allowed one connects', async () => {
  const bad = await rawWs('Origin: http://evil.example\r\n');
  assert.match(bad.head, /^HTTP\/1\.[01] 403/);
  bad.sock.destroy();
  const good = await SipWs.open(stack.wsUrl, 'sip', { origin: 'http://127.0.0.1:8080' });
  good.close();
});

// libwebsockets 4.1 (Debian 12) does not check the client mask bit; the gateway watches the raw
// bytes lws reads (gateway/ws_mask.c) and closes with 1002 without handing the frame on.
test('unmasked client frame → close 1002, the message is not handled', async () => {
  const a = await rawWs();
  a.sock.write(frame(1, registerMsg({ callId: 'unmasked' }), { mask: false }));
  await Promise.race([a.closed, sleep(2000)]);
  assert.equal(closeCode(a.data()), 1002);
  assert.ok(!a.data().includes('SIP/2.0'), 'no SIP answer to the unmasked message');
  a.sock.destroy();
  // a masked frame after a masked one is fine; an unmasked one after it is not
  const b = await rawWs();
  b.sock.write(frame(1, registerMsg({ callId: 'masked-first' })));
  for (let i = 0; i < 100 && !b.data().includes('401 Unauthorized'); i++) await sleep(20);
  assert.ok(b.data().includes('SIP/2.0 401'), 'the masked REGISTER is answered');
  b.sock.write(frame(1, registerMsg({ callId: 'unmasked-second' }), { mask: false }));
  await Promise.race([b.closed, sleep(2000)]);
  assert.equal(closeCode(b.data()), 1002);
  b.sock.destroy();
});

test('an unmasked frame in the same write as the handshake → close 1002', async () => {
  const sock = net.connect(stack.gwPort, '127.0.0.1');
  await new Promise((r) => sock.on('connect', r));
  let buf = Buffer.alloc(0);
  sock.on('data', (d) => { buf = Buffer.concat([buf, d]); });
  sock.on('error', () => {});
  const closed = new Promise((resolve) => sock.on('close', resolve));
  sock.write(Buffer.concat([Buffer.from(`GET /sip HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n` +
    `Connection: Upgrade\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\n` +
    'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n'),
  frame(1, registerMsg({ callId: 'unmasked-coalesced' }), { mask: false })]));
  await Promise.race([closed, sleep(2000)]);
  const body = buf.subarray(buf.indexOf('\r\n\r\n') + 4);
  assert.match(buf.toString('latin1'), /^HTTP\/1\.1 101/);
  assert.equal(closeCode(body), 1002);
  sock.destroy();
});

test('invalid UTF-8 in a text frame → close 1007', async () => {
  const b = await rawWs();
  b.sock.write(frame(1, Buffer.from([0x4f, 0xff, 0xfe, 0x4b])));
  await Promise.race([b.closed, sleep(3000)]);
  assert.equal(closeCode(b.data()), 1007);
});

test('a SIP message split over continuation frames is reassembled; binary frames work', async () => {
  const ws = await rawWs();
  const msg = registerMsg({ callId: 'frag' });
  ws.sock.write(Buffer.concat([frame(2, msg.slice(0, 40), { fin: false }),
    frame(0, msg.slice(40, 100), { fin: false }), frame(0, msg.slice(100))]));
  for (let i = 0; i < 100 && !ws.data().includes('401 Unauthorized'); i++) await sleep(20);
  assert.ok(ws.data().includes('SIP/2.0 401 Unauthorized'), 'a 401 for the reassembled binary REGISTER');
  ws.sock.destroy();
});

test('WebSocket ping gets a pong with the same payload', async () => {
  const ws = await rawWs();
  ws.sock.write(frame(9, 'hello'));
  for (let i = 0; i < 100 && !ws.data().includes('hello'); i++) await sleep(20);
  assert.equal(ws.data()[0], 0x8a);
  assert.equal(ws.data().subarray(2, 7).toString(), 'hello');
  ws.sock.destroy();
});

test('Proxy-Require with an unknown option → 420 + Unsupported; own Via → 482', async () => {
  const c = await SipWs.open(stack.wsUrl);
  const r420 = await c.request(registerMsg({ callId: 'pr', extra: ['Proxy-Require: foo'] }));
  assert.equal(r420.status, 420);
  assert.deepEqual(r420.headers.unsupported, ['foo']);
  const loop = registerMsg({ callId: 'loop' }).replace('Max-Forwards: 70',
    `Via: SIP/2.0/TCP 127.0.0.1:${stack.gwSipPort};branch=z9hG4bK-loop\r\nMax-Forwards: 70`);
  assert.equal((await c.request(loop)).status, 482);
  c.close();
});

test('re-REGISTER on the same Call-ID keeps CSeq order; the token cache answers it', async () => {
  const c = await SipWs.open(stack.wsUrl);
  const tok = token(stack, 'alice');
  const hits = await metric('imsgw_token_cache_hits_total');
  const checks = await metric('imsgw_token_signature_checks_total');
  assert.equal((await c.request(registerMsg({ cseq: 1, callId: 'rereg', auth: `Bearer ${tok}` }))).status, 200);
  assert.equal(await metric('imsgw_token_signature_checks_total'), checks + 1, 'a new token: its signature checked');
  assert.equal((await c.request(registerMsg({ cseq: 2, callId: 'rereg', auth: `Bearer ${tok}` }))).status, 200);
  assert.ok(await metric('imsgw_token_cache_hits_total') > hits);
  assert.equal(await metric('imsgw_token_signature_checks_total'), checks + 1, 'the cached token: not again');
  c.close();
});

test('T16: de-REGISTER on the registering flow needs no token; elsewhere it is challenged', async () => {
  const c = await SipWs.open(stack.wsUrl);
  assert.equal((await c.request(registerMsg({ cseq: 1, callId: 'dereg', auth: `Bearer ${token(stack, 'alice')}` }))).status, 200);
  const other = await SipWs.open(stack.wsUrl);
  assert.equal((await other.request(registerMsg({ cseq: 5, callId: 'dereg-other', expires: 0 }))).status, 401);
  other.close();
  const before = await stubRegisterCountSettled(stack); // earlier lines may trail their 200
  const rsp = await c.request(registerMsg({ cseq: 2, callId: 'dereg', expires: 0 }));
  assert.equal(rsp.status, 200, rsp.text);
  assert.equal(await stubRegistersReach(stack, before + 1), before + 1);
  c.close();
});

test('Expires is clamped to the token lifetime; a token about to expire is refused', async () => {
  const c = await SipWs.open(stack.wsUrl);
  const now = Math.floor(Date.now() / 1000);
  // a token valid 300 more seconds asks for 600: the stub grants at most 300
  const t300 = token(stack, 'alice', ['--issued-at', String(now - 600), '--lifetime', '900']);
  const rsp = await c.request(registerMsg({ callId: 'clamp', expires: 600, auth: `Bearer ${t300}` }));
  assert.equal(rsp.status, 200);
  const granted = Number(/expires=(\d+)/.exec(rsp.headers.contact.join(','))[1]);
  assert.ok(granted <= 300 && granted > 250, `granted ${granted}`);
  const t30 = token(stack, 'alice', ['--issued-at', String(now - 870), '--lifetime', '900']);
  const r401 = await c.request(registerMsg({ callId: 'clamp', cseq: 2, auth: `Bearer ${t30}` }));
  assert.equal(r401.status, 401);
  assert.match(r401.headers['www-authenticate'][0], /error="invalid_token"/);
  c.close();
});

test('T10: a token without ims:register → 401 invalid_scope naming the scope', async () => {
  const c = await SipWs.open(stack.wsUrl);
  const rsp = await c.request(registerMsg({ callId: 'scope', auth: `Bearer ${token(stack, 'alice', ['--scope', 'ims:call'])}` }));
  assert.equal(rsp.status, 401);
  assert.match(rsp.headers['www-authenticate'][0], /error="invalid_scope"/);
  assert.match(rsp.headers['www-authenticate'][0], /scope="ims:register"/);
  c.close();
});

test('unknown kid: one JWKS refetch, then 401; no refetch storm', async () => {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const good = token(stack, 'alice');
  const payload = good.split('.')[1];
  const before = await metric('imsgw_jwks_fetch_total{result="ok"}');
  const c = await SipWs.open(stack.wsUrl);
  for (let i = 0; i < 5; i++) {
    const h = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid: `rogue-${i}` })).toString('base64url');
    const sig = crypto.sign('sha256', Buffer.from(`${h}.${payload}`), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    const rsp = await c.request(registerMsg({ callId: 'kid', cseq: i + 1, auth: `Bearer ${h}.${payload}.${sig}` }));
    assert.equal(rsp.status, 401);
  }
  const after = await metric('imsgw_jwks_fetch_total{result="ok"}');
  assert.ok(after - before <= 1, `at most one refetch (${after - before})`);
  c.close();
});

test('T11/T12 and bad Bearer syntax: 421, 483, 400', async () => {
  const c = await SipWs.open(stack.wsUrl);
  assert.equal((await c.request(registerMsg({ callId: 'b1', auth: 'Bearer a b' }))).status, 400);
  assert.equal((await c.request(registerMsg({ callId: 'b2', extra: [`Authorization: Bearer x`, `Proxy-Authorization: Bearer y`] }))).status, 400);
  // issue 9 item 10: a token over 8 KiB is a malformed request, not a bad token
  assert.equal((await c.request(registerMsg({ callId: 'b3', auth: `Bearer ${'A'.repeat(9000)}` }))).status, 400);
  c.close();
});

test('a Contact expires parameter (as JsSIP sends it) is clamped, not corrupted', async () => {
  const c = await SipWs.open(stack.wsUrl);
  const now = Math.floor(Date.now() / 1000);
  const t300 = token(stack, 'alice', ['--issued-at', String(now - 600), '--lifetime', '900']);
  const msg = registerMsg({ callId: 'cexp', auth: `Bearer ${t300}` }).replace('reg-id=1', 'reg-id=1;expires=600');
  const rsp = await c.request(msg);
  assert.equal(rsp.status, 200, rsp.text);
  const granted = Number(/expires=(\d+)/.exec(rsp.headers.contact.join(','))[1]);
  assert.ok(granted <= 300 && granted > 250, `granted ${granted}`);
  c.close();
});

test('bad input: 64 KiB token, 1,000 headers, two reg-id Contacts, Contact * with expiry, half-sent frame', async () => {
  const before = await stubRegisterCountSettled(stack); // earlier lines may trail their 200
  const c = await SipWs.open(stack.wsUrl);
  const big = await SipWs.open(stack.wsUrl);
  big.send(registerMsg({ callId: 'big', auth: `Bearer ${'A'.repeat(64 * 1024)}` }));
  assert.equal(await big.closed, 1009, 'a 64 KiB token makes the message too big');
  const many = registerMsg({ callId: 'many' }).replace('Max-Forwards: 70',
    `Max-Forwards: 70\r\n${Array.from({ length: 1000 }, (_, i) => `X-H${i}: v`).join('\r\n')}`);
  const r1 = await c.request(many);
  assert.equal(r1.status, 400);
  assert.match(r1.start, /too many headers/);
  const tok = token(stack, 'alice');
  const two = registerMsg({ callId: 'two-regid', auth: `Bearer ${tok}` }).replace('Expires: 600',
    'Contact: <sip:other@q7k2m9x4.invalid;transport=ws>;+sip.instance="<urn:uuid:5f0c9a7e-3b1d-4c2e-9a51-0e8f6b2d7c12>";reg-id=2\r\nExpires: 600');
  assert.equal((await c.request(two)).status, 400, 'two Contacts with reg-id (RFC 5626 §6)');
  const star = registerMsg({ callId: 'star', auth: `Bearer ${tok}` }).replace(/Contact: [^\r]*/, 'Contact: *');
  assert.equal((await c.request(star)).status, 400, 'Contact: * with a non-zero Expires');
  // half a frame, then the TCP connection goes away: the gateway just drops it
  const sock = (await import('node:net')).connect(stack.gwPort, '127.0.0.1');
  await new Promise((r) => sock.on('connect', r));
  sock.write(`GET /sip HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n`);
  await sleep(100);
  sock.write(Buffer.from([0x81, 0xfe, 0x01, 0x00, 1, 2, 3, 4, 0x41]));
  sock.destroy();
  await sleep(100);
  const ok = await c.request(registerMsg({ callId: 'after', auth: `Bearer ${tok}` }));
  assert.equal(ok.status, 200, 'others are unaffected');
  assert.equal(await stubRegistersReach(stack, before + 1), before + 1, 'only the good REGISTER reached the stub');
  c.close();
});
