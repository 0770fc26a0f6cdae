// Issue 4: bounds at the WebSocket edge: per-source connection limit and the idle (ping/pong)
// timeout, on a gateway configured with small values. Keepalive (ws_keepalive): idle = nothing
// received, no message and no pong, for ws-ping-interval (1 s here).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { startStack, SipWs, registerMsg, sleep } from './harness.mjs';

let stack;
const metric = async (name) => {
  const text = await (await fetch(`${stack.httpUrl}/metrics`)).text();
  const m = new RegExp(`^${name} ([0-9.]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
};
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

test('pings go to idle connections only; traffic or pongs keep a connection; hang-ups are counted', async () => {
  const pings0 = await metric('imsgw_ws_pings_sent_total');
  const closed0 = await metric('imsgw_ws_unresponsive_closed_total');
  const answering = await SipWs.open(stack.wsUrl); // answers pings, sends nothing
  let answeringPings = 0;
  answering.ws.on('ping', () => { answeringPings++; });
  // RFC 5626 CRLF keepalives every 300 ms, and no pong: its traffic is what keeps it.
  const chatty = await SipWs.open(stack.wsUrl, 'sip', { autoPong: false });
  let chattyPings = 0;
  chatty.ws.on('ping', () => { chattyPings++; });
  const crlf = setInterval(() => chatty.send('\r\n\r\n'), 300);
  const silent = await SipWs.open(stack.wsUrl, 'sip', { autoPong: false });
  let silentPings = 0;
  silent.ws.on('ping', () => { silentPings++; });
  const code = await Promise.race([silent.closed, sleep(6000).then(() => 'still open')]);
  assert.equal(code, 1006, 'the silent connection is dropped without a close frame');
  assert.equal(silentPings, 1, 'it got one ping before');
  await sleep(2500); // more intervals for the others
  clearInterval(crlf);
  await sleep(100);
  assert.ok(chatty.queue.length > 0 && chatty.queue.every((m) => m === '\r\n'), 'keepalives answered');
  chatty.queue.length = 0;
  assert.ok(answeringPings >= 2, `the idle answering connection is pinged each interval (${answeringPings})`);
  assert.equal(chattyPings, 0, 'a connection with traffic is not pinged');
  for (const c of [answering, chatty]) {
    const rsp = await c.request(registerMsg({ callId: `kept-${crypto.randomUUID()}` }));
    assert.equal(rsp.status, 401, 'still served');
  }
  assert.ok(await metric('imsgw_ws_pings_sent_total') - pings0 >= 3, 'pings counted');
  assert.equal(await metric('imsgw_ws_unresponsive_closed_total') - closed0, 1, 'the hang-up counted');
  answering.close();
  chatty.close();
});
