// Issue 9 item 8 at the gateway: per-source limits keyed by IPv4 address / IPv6 /64, the client
// address from X-Forwarded-For of trusted proxies only, and the send-queue bound across all
// connections. Loopback lets a test connect from 127.0.0.2 (the "proxy") and 127.0.0.1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { startStack, SipWs, registerMsg, sleep } from './harness.mjs';

let stack;
before(async () => {
  stack = await startStack({
    gatewayArgs: ['--trusted-proxies', '127.0.0.2', '--max-connections-per-source', '2',
      '--max-queued-bytes-total', '262144'],
  });
});
after(async () => {
  const results = await stack.stop();
  for (const [name, r] of Object.entries(results)) assert.deepEqual(r, { code: 0, sig: null }, name);
});

const metric = async (name) => {
  const text = await (await fetch(`${stack.httpUrl}/metrics`)).text();
  const m = new RegExp(`^${name} ([0-9.]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
};

const via = (localAddress, xff) => SipWs.open(stack.wsUrl, 'sip',
  { localAddress, headers: xff ? { 'X-Forwarded-For': xff } : {} });

test('behind a trusted proxy, one IPv6 /64 is one source; other /64s and IPv4 are not', async () => {
  const a = await via('127.0.0.2', '2001:db8:1:2::1');
  const b = await via('127.0.0.2', '198.51.100.9, 2001:db8:1:2:ffff::2'); // rightmost counts
  await assert.rejects(via('127.0.0.2', '2001:db8:1:2:abcd::3'), /HTTP 503/);
  const other64 = await via('127.0.0.2', '2001:db8:1:3::1');
  const v4 = await via('127.0.0.2', '198.51.100.9');
  assert.match(stack.gateway.log, /open from 2001:db8:1:2::1\n/);
  assert.match(stack.gateway.log, /already has 2 connections/);
  assert.match(stack.gateway.log, /2001:db8:1:2::\/64 already has 2 connections/);
  for (const c of [a, b, other64, v4]) c.close();
  await sleep(200);
});

test('X-Forwarded-For from a peer that is not a trusted proxy is ignored', async () => {
  const a = await via('127.0.0.1', '203.0.113.1');
  const b = await via('127.0.0.1', '203.0.113.2');
  // both count as 127.0.0.1 whatever they claim
  await assert.rejects(via('127.0.0.1', '203.0.113.3'), /HTTP 503/);
  assert.doesNotMatch(stack.gateway.log, /open from 203\.0\.113/);
  a.close();
  b.close();
  await sleep(200);
});

/** A WebSocket on a raw socket that never reads what the gateway sends. */
async function deafClient() {
  const sock = net.connect(stack.gwPort, '127.0.0.1');
  await new Promise((r) => sock.on('connect', r));
  sock.on('error', () => {});
  const closed = new Promise((r) => sock.on('close', r));
  sock.write(`GET /sip HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
    'Sec-WebSocket-Protocol: sip\r\n\r\n');
  await sleep(100);
  sock.pause();
  return { sock, closed };
}

function frame(payload) {
  const body = Buffer.from(payload);
  const key = crypto.randomBytes(4);
  const hdr = body.length < 126 ? Buffer.from([0x81, 0x80 | body.length])
    : Buffer.from([0x81, 0x80 | 126, body.length >> 8, body.length & 255]);
  for (let i = 0; i < body.length; i++) body[i] ^= key[i % 4];
  return Buffer.concat([hdr, key, body]);
}

/**
 * Sends n REGISTERs whose 401s echo a 16 KB Call-ID: the gateway must queue them. Every frame
 * yields to the event loop: while the kernel takes each write at once, an await of a settled
 * promise alone would never let Node read the gateway's log pipe, and the log would look silent.
 */
async function flood(sock, n, tag) {
  for (let i = 0; i < n; i++) {
    const callId = `${tag}-${i}-${'q'.repeat(16000)}`;
    if (!sock.write(frame(registerMsg({ callId })))) await sleep(5);
    else await new Promise(setImmediate);
  }
}

test('all send queues together are bounded: over the total a reader is closed, others go on', async () => {
  const before = await metric('imsgw_ws_slow_readers_closed_total');
  // Two readers that never read: first the kernel buffers fill (~10 MB on loopback), then the
  // gateway's queues, until together they pass 256 KB (each stays under its own 1 MB bound).
  const big = await deafClient();
  const small = await deafClient();
  const until = Date.now() + 20000;
  for (let i = 0; Date.now() < until && !/send queues are full/.test(stack.gateway.log); i += 10) {
    await flood(big.sock, 10, `big${i}`);
    await flood(small.sock, 2, `small${i}`);
  }
  assert.match(stack.gateway.log, /connection \d+ from 127\.0\.0\.1 (has the biggest send queue|reads too slowly) while the send queues are full; closing/);
  assert.ok(await metric('imsgw_ws_slow_readers_closed_total') > before, 'counted');
  assert.ok(await metric('imsgw_ws_queued_bytes') <= 262144, 'the total stays bounded');
  const fine = await via('127.0.0.3'); // another source: 127.0.0.1 holds its 2 connections
  assert.equal((await fine.request(registerMsg({ callId: 'after-flood' }))).status, 401);
  fine.close();
  big.sock.destroy();
  small.sock.destroy();
  for (let i = 0; i < 50 && await metric('imsgw_ws_queued_bytes') > 0; i++) await sleep(50);
  assert.equal(await metric('imsgw_ws_queued_bytes'), 0, 'nothing stays queued for closed connections');
});
