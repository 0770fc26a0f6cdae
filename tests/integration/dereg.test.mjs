// Issue 4: with --dereg-grace, a closed WebSocket's registration is removed upstream after the
// grace period, unless the same AOR + instance registered again meanwhile.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, token, SipWs, registerMsg, stubRegisterCount, stubRegistersReach, sleep } from './harness.mjs';
import { Ua } from './sipua.mjs';

let stack;
before(async () => { stack = await startStack({ gatewayArgs: ['--dereg-grace', '1'] }); });
after(async () => {
  const results = await stack.stop();
  for (const [name, r] of Object.entries(results)) assert.deepEqual(r, { code: 0, sig: null }, name);
});

test('the flow closes: a de-REGISTER reaches the core after the grace period', async () => {
  const n0 = stubRegisterCount(stack);
  const c = await SipWs.open(stack.wsUrl);
  assert.equal((await c.request(registerMsg({ callId: 'gone', auth: `Bearer ${token(stack, 'alice')}` }))).status, 200);
  const before = await stubRegistersReach(stack, n0 + 1);
  c.close();
  assert.equal(await stubRegistersReach(stack, before + 1, 4000), before + 1, 'the de-REGISTER arrived');
  const sent = /dereg: flow closed 1 s ago; de-REGISTER sent for sip:alice@ims.test/;
  for (let i = 0; i < 100 && !sent.test(stack.gateway.log); i++) await sleep(20);
  assert.match(stack.gateway.log, sent);
  // the binding is gone at the core: a message to alice is "not registered", not a failed flow
  const bob = await Ua.register(stack, 'bob');
  bob.request('MESSAGE', 'sip:alice@ims.test', { body: 'x', contentType: 'text/plain' });
  assert.equal((await bob.waitResponse((r) => r.status >= 400)).status, 480);
  const line = /proxy method=MESSAGE from=sip:bob@ims.test to=sip:alice@ims.test status=480[^\n]*reason=not-registered/;
  for (let i = 0; i < 100 && !line.test(stack.stub.log); i++) await sleep(20);
  assert.match(stack.stub.log, line);
  const n = stubRegisterCount(stack);
  bob.close();
  assert.equal(await stubRegistersReach(stack, n + 1, 4000), n + 1, "bob's de-REGISTER too");
});

test('a quick reconnect with the same instance keeps its binding (no de-REGISTER)', async () => {
  const n0 = stubRegisterCount(stack);
  const c1 = await SipWs.open(stack.wsUrl);
  assert.equal((await c1.request(registerMsg({ user: 'bob', callId: 'back', auth: `Bearer ${token(stack, 'bob')}` }))).status, 200);
  c1.close();
  await sleep(100);
  const c2 = await SipWs.open(stack.wsUrl);
  assert.equal((await c2.request(registerMsg({ user: 'bob', callId: 'back', cseq: 2, auth: `Bearer ${token(stack, 'bob')}` }))).status, 200);
  const count = await stubRegistersReach(stack, n0 + 2);
  assert.equal(count, n0 + 2);
  await sleep(2000);
  assert.equal(stubRegisterCount(stack), count, 'nothing more reached the core');
  c2.close();
});
