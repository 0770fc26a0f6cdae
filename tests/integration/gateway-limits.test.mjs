// Issue 4: bounds at the WebSocket edge: per-source connection limit and the idle (ping/pong)
// timeout, on a gateway configured with small values.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { startStack, SipWs, registerMsg, sleep } from './harness.mjs';

let stack;
before(async () => {
  stack = await startStack({ gatewayArgs: ['--max-connections-per-source', '3', '--ws-ping-interval', '1'] });
});
after(async () => {
  const results = await stack.stop();
  for (const [name, r] of Object.entries(results)) assert.deepEqual(r, { code: 0, sig: null }, name);
});

test('a source address gets at most max-connections-per-source connections (503 beyond)', async () => {
  const open = [];
  for (let i = 0; i < 3; i++) open.push(await SipWs.open(stack.wsUrl));
  await assert.rejects(SipWs.open(stack.wsUrl), /HTTP 503/);
  open.pop().close();
  await sleep(200);
  const again = await SipWs.open(stack.wsUrl);
  again.close();
  for (const c of open) c.close();
});

test('an idle connection that does not answer pings is closed; one that does stays', async () => {
  const live = await SipWs.open(stack.wsUrl); // the ws package answers pings
  const sock = net.connect(stack.gwPort, '127.0.0.1');
  await new Promise((r) => sock.on('connect', r));
  sock.on('error', () => {});
  sock.write(`GET /sip HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
    `Sec-WebSocket-Protocol: sip\r\n\r\n`);
  let got = '';
  sock.on('data', (d) => { got += d.toString('latin1'); });
  const closed = new Promise((resolve) => sock.on('close', () => resolve(true)));
  const result = await Promise.race([closed, sleep(6000).then(() => false)]);
  assert.equal(result, true, `the silent connection was dropped (got ${JSON.stringify(got.slice(0, 80))})`);
  const rsp = await live.request(registerMsg({ callId: 'alive' }));
  assert.equal(rsp.status, 401, 'the answering connection still works');
  live.close();
});
