// Issue 5: Timer C. With --timer-c 2, an INVITE that only rings is cancelled by the gateway:
// the callee's browser gets a CANCEL and the caller a final failure; nothing lingers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, sleep } from './harness.mjs';
import { Ua, SDP } from './sipua.mjs';

let stack;
before(async () => { stack = await startStack({ gatewayArgs: ['--timer-c', '2'] }); });
after(async () => {
  const results = await stack.stop();
  for (const [name, r] of Object.entries(results)) assert.deepEqual(r, { code: 0, sig: null }, name);
});

test('an INVITE that only rings is cancelled when Timer C fires', async () => {
  const alice = await Ua.register(stack, 'alice');
  const bob = await Ua.register(stack, 'bob');
  alice.request('INVITE', bob.aor, { body: SDP('alice') });
  const inv = await bob.waitRequest('INVITE');
  bob.respond(inv, 180, 'Ringing');
  await alice.waitStatus(180, 'INVITE');
  const cancel = await bob.waitRequest('CANCEL', 6000);
  bob.respond(cancel, 200, 'OK');
  bob.respond(inv, 487, 'Request Terminated');
  const final = await alice.waitResponse((r) => r.status >= 400 && / INVITE$/.test(r.headers.cseq[0]), 8000);
  assert.ok([408, 480, 487].includes(final.status), `final ${final.status}`);
  const metric = async () => Number(/^imsgw_proxy_transactions (\d+)$/m.exec(await (await fetch(`${stack.httpUrl}/metrics`)).text())[1]);
  for (let i = 0; i < 200 && (await metric()) > 0; i++) await sleep(25);
  assert.equal(await metric(), 0);
  alice.close();
  bob.close();
});
