// A core reached over TCP (next-hop ;transport=tcp) whose Service-Route carries no transport
// parameter: RFC 3263 alone would send the requests that follow that route over UDP. The gateway
// keeps them on TCP (gateway/gw_main.c, nta's UDP MTU), so a TCP-only core (fake-scscf.mjs listens
// on TCP only) still receives the reg-event SUBSCRIBE and the user's MESSAGE. Before, the
// SUBSCRIBE went to a UDP port nobody listened on and the MESSAGE never arrived. With
// `core-tcp-only false` such a route is left to RFC 3263: the SUBSCRIBE goes over UDP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { startStack, token, SipWs, registerMsg, sleep } from './harness.mjs';
import { startFakeScscf } from './fake-scscf.mjs';

let stack, scscf;

before(async () => {
  scscf = await startFakeScscf({ routeParams: '' });
  stack = await startStack({
    users: ['alice'],
    gatewayArgs: ['--next-hop', `sip:127.0.0.1:${scscf.port};transport=tcp`],
  });
});
after(async () => {
  const results = await stack.stop();
  await scscf.stop();
  assert.deepEqual(results['imsgw-gateway'], { code: 0, sig: null }, 'the gateway stops cleanly');
});

async function until(what, cond) {
  for (let i = 0; i < 250; i++) {
    if (cond()) return;
    await sleep(20);
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('requests routed by a Service-Route without a transport go over TCP to a core reached over TCP', async () => {
  const c = await SipWs.open(stack.wsUrl);
  c.send(registerMsg({ user: 'alice', auth: `Bearer ${token(stack, 'alice')}`, callId: `ct-${process.pid}` }));
  assert.match(await c.next(), /^SIP\/2\.0 200 /);
  const route = scscf.registers()[0];
  assert.ok(route, 'the REGISTER reached the core');

  await until('the reg-event SUBSCRIBE at the core', () => scscf.received.some((m) => m.start.startsWith('SUBSCRIBE')));
  const sub = scscf.received.find((m) => m.start.startsWith('SUBSCRIBE'));
  assert.match(sub.headers.via[0], /^SIP\/2\.0\/TCP /, 'sent over TCP');

  c.send([`MESSAGE sip:bob@ims.test SIP/2.0`, 'Via: SIP/2.0/WSS ct.invalid;branch=z9hG4bK-ct-msg',
    'Max-Forwards: 70', 'From: <sip:alice@ims.test>;tag=ct1', 'To: <sip:bob@ims.test>',
    `Call-ID: ct-msg-${process.pid}`, 'CSeq: 1 MESSAGE', 'Content-Type: text/plain', 'Content-Length: 2',
    '', 'hi'].join('\r\n'));
  assert.match(await c.next(), /^SIP\/2\.0 200 /, 'the core answered the MESSAGE');
  const msg = scscf.received.find((m) => m.start.startsWith('MESSAGE'));
  assert.match(msg.headers.via[0], /^SIP\/2\.0\/TCP /);
  assert.match(msg.headers.route[0], /sip:orig@127\.0\.0\.1:\d+;lr/, 'along the Service-Route');
  c.close();
});

test('core-tcp-only false: a route without a transport goes over UDP, as RFC 3263 picks', async () => {
  const core = await startFakeScscf({ routeParams: '' });
  const udp = dgram.createSocket('udp4');
  const overUdp = [];
  udp.on('message', (m) => overUdp.push(m.toString('latin1')));
  await new Promise((r) => udp.bind(core.port, '127.0.0.1', r)); // same number as its TCP port
  const other = await startStack({
    users: ['bob'],
    gatewayArgs: ['--next-hop', `sip:127.0.0.1:${core.port};transport=tcp`, '--core-tcp-only', 'false'],
  });
  try {
    const c = await SipWs.open(other.wsUrl);
    c.send(registerMsg({ user: 'bob', auth: `Bearer ${token(other, 'bob')}`, callId: `ct-udp-${process.pid}` }));
    assert.match(await c.next(), /^SIP\/2\.0 200 /, 'the REGISTER itself goes to the next hop over TCP');
    await until('the SUBSCRIBE over UDP', () => overUdp.some((m) => m.startsWith('SUBSCRIBE')));
    assert.match(overUdp.find((m) => m.startsWith('SUBSCRIBE')), /^Via: SIP\/2\.0\/UDP /m);
    assert.ok(!core.received.some((m) => m.start.startsWith('SUBSCRIBE')), 'none over TCP');
    c.close();
  } finally {
    const results = await other.stop();
    udp.close();
    await core.stop();
    assert.deepEqual(results['imsgw-gateway'], { code: 0, sig: null }, 'the gateway stops cleanly');
  }
});
