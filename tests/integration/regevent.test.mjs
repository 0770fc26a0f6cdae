// Issue 11: the gateway subscribes to each registered user's reg event (RFC 3680, TS 24.229
// §5.2.3) at the IMS stub; a network-initiated de-registration (stub test hook) ends the edge
// registration within a second and closes the flow; de-REGISTER un-SUBSCRIBEs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { startStack, sleep, SipWs, registerMsg } from './harness.mjs';
import { Ua } from './sipua.mjs';

let stack;
before(async () => { stack = await startStack({ users: ['alice', 'bob'] }); });
after(async () => {
  const results = await stack.stop();
  for (const [name, r] of Object.entries(results)) assert.deepEqual(r, { code: 0, sig: null }, name);
});

const until = async (what, check, ms = 3000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
};
const metric = async (name) => {
  const m = new RegExp(`^${name} ([0-9.]+)$`, 'm').exec(await (await fetch(`${stack.httpUrl}/metrics`)).text());
  return m ? Number(m[1]) : NaN;
};

/** The stub's test hook: network-initiated de-registration of aor. */
export async function stubDeregister(port, aor) {
  const sock = dgram.createSocket('udp4');
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  const text = [`OPTIONS sip:127.0.0.1:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${sock.address().port};rport;branch=z9hG4bK-admin-${Date.now()}`,
    'Max-Forwards: 70', '<sip:admin@127.0.0.1>;tag=adm'.replace(/^/, 'From: '), `To: <sip:127.0.0.1:${port}>`,
    `Call-ID: admin-${Date.now()}`, 'CSeq: 1 OPTIONS', `X-Stub-Deregister: ${aor}`, 'Content-Length: 0', '', ''].join('\r\n');
  const reply = new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('stub did not answer the de-registration hook')), 3000);
    sock.on('message', (m) => { clearTimeout(t); resolve(m.toString()); });
  });
  sock.send(text, port, '127.0.0.1');
  try { return await reply; } finally { sock.close(); }
}

test('after a registration the gateway subscribes to the user\'s reg event at the core', async () => {
  const alice = await Ua.register(stack, 'alice');
  await until('the SUBSCRIBE', () => /regevent: subscribe aor=sip:alice@ims\.test/.test(stack.stub.log));
  await until('its 200', () => /subscribed to the registration state of sip:alice@ims\.test/.test(stack.gateway.log));
  assert.equal(alice.requests.length, 0, 'nothing of it reaches the client');
  alice.close();
});

test('network-initiated de-registration: the edge registration ends within a second and the flow closes', async () => {
  const bob = await Ua.register(stack, 'bob');
  await until('the subscription', () => /subscribed to the registration state of sip:bob@ims\.test/.test(stack.gateway.log));
  const before = await metric('imsgw_registrations');
  const closed = new Promise((resolve) => bob.ws.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const t0 = Date.now();
  const answer = await stubDeregister(stack.stubPort, 'sip:bob@ims.test');
  assert.match(answer, /^SIP\/2\.0 200/);
  assert.match(answer, /X-Removed: 1/);
  const { code } = await Promise.race([closed, sleep(1000).then(() => ({ code: 'still open after 1 s' }))]);
  assert.equal(code, 4401, 'closed with "the network ended the registration"');
  assert.ok(Date.now() - t0 < 1000);
  assert.match(stack.gateway.log, /the core ended the registration of sip:bob@ims\.test \(deactivated\)/);
  await until('the registration gauge', () => true);
  assert.equal(await metric('imsgw_registrations'), before - 1);
  // The client's next REGISTER (a new flow, its token gone with the page) meets a fresh challenge.
  const c = await SipWs.open(stack.wsUrl);
  const rsp = await c.request(registerMsg({ user: 'bob', callId: 'after-dereg' }));
  assert.equal(rsp.status, 401);
  c.close();
});

test('de-REGISTER un-SUBSCRIBEs', async () => {
  const alice = await Ua.register(stack, 'alice');
  await until('the subscription', () => (stack.gateway.log.match(/subscribed to the registration state of sip:alice@ims\.test/g) || []).length >= 2);
  alice.ws.send(registerMsg({ user: 'alice', callId: `reg-${alice.host}`, cseq: 2, expires: 0 })
    .replace(/Contact: [^\r]*/, `Contact: ${alice.contact}`));
  assert.equal((await alice.waitResponse((r) => / REGISTER$/.test(r.headers.cseq[0]))).status, 200);
  await until('the un-SUBSCRIBE', () => /regevent: unsubscribe aor=sip:alice@ims\.test/.test(stack.stub.log));
  alice.close();
});
