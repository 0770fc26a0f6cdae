// Issue 11: the gateway subscribes to each registered user's reg event (RFC 3680, TS 24.229
// §5.2.3) at the IMS stub; a network-initiated de-registration (stub test hook) ends the edge
// registration within a second and closes the flow; de-REGISTER un-SUBSCRIBEs; a "shortened"
// registration is renewed by the gateway's own re-REGISTER before the new expiry.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, sleep, SipWs, registerMsg, stubDeregister, stubShorten } from './harness.mjs';
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

export { stubDeregister }; // moved to harness.mjs; kept for importers of this file

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

test('shortened: the gateway re-registers on the user\'s behalf before the new expiry', async () => {
  const alice = await Ua.register(stack, 'alice');
  const bob = await Ua.register(stack, 'bob');
  const subs = (stack.gateway.log.match(/subscribed to the registration state of sip:alice@ims\.test/g) || []).length;
  await until('the subscription', () => (stack.gateway.log.match(/subscribed to the registration state of sip:alice@ims\.test/g) || []).length > subs - 1 && /regevent: subscribe aor=sip:alice@ims\.test/.test(stack.stub.log));
  const regs = () => (stack.stub.log.match(/register aor=sip:alice@ims\.test from=\S+ status=200/g) || []).length;
  const before = regs();
  const t0 = Date.now();
  assert.match(await stubShorten(stack.stubPort, 'sip:alice@ims.test', 2), /X-Shortened: [1-9]/); // with earlier tests' bindings
  await until('the re-REGISTER', () => /re-registered sip:alice@ims\.test on its behalf/.test(stack.gateway.log), 2000);
  assert.ok(Date.now() - t0 < 2000, 'before the shortened expiry');
  assert.equal(regs(), before + 1, 'the core accepted one re-REGISTER');
  await sleep(2500 - (Date.now() - t0)); // past the shortened expiry
  // Still registered at the edge (alice may send) and at the core (she is reachable).
  alice.request('MESSAGE', bob.aor, { body: 'still here', contentType: 'text/plain' });
  bob.respond(await bob.waitRequest('MESSAGE'), 200, 'OK');
  await alice.waitStatus(200, 'MESSAGE');
  bob.request('MESSAGE', alice.aor, { body: 'me too', contentType: 'text/plain' });
  alice.respond(await alice.waitRequest('MESSAGE'), 200, 'OK');
  await bob.waitStatus(200, 'MESSAGE');
  assert.equal(alice.requests.length, 0, 'the re-REGISTER is not the client\'s business');
  // The client's own refresh (its Call-ID again, next CSeq) is still in order at the core.
  alice.regCseq++;
  const again = await alice.sendRegister(null, alice.token);
  assert.equal(again.status, 200);
  alice.close();
  bob.close();
});
