// Issue 14 / checklist 77: a WebSocket lost mid-call. With the client proven by DPoP on a new
// WebSocket (same key, +sip.instance and reg-id) within flow-recovery-grace, the registration
// and the call move to it: the far end's re-INVITE and BYE reach the new connection, and the
// client's own in-dialog requests are accepted there. Without the proof nothing moves and the
// far end gets a BYE once the grace is over.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, sleep, SipWs, registerMsg } from './harness.mjs';
import { Ua, SDP } from './sipua.mjs';
import { dpopKey, proof } from './dpop.mjs';

const GRACE = 2;
let stack;
before(async () => { stack = await startStack({ gatewayArgs: ['--flow-recovery-grace', String(GRACE)] }); });
after(async () => {
  const results = await stack.stop();
  for (const [name, r] of Object.entries(results)) assert.deepEqual(r, { code: 0, sig: null }, name);
});

const metrics = async () => (await fetch(`${stack.httpUrl}/metrics`)).text();
const metric = async (line) => Number((new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} ([0-9.]+)$`, 'm').exec(await metrics()) || [])[1]);
async function logShows(re, ms = 3000) {
  for (let i = 0; i < ms / 20 && !re.test(stack.gateway.log); i++) await sleep(20);
  assert.match(stack.gateway.log, re);
}

/** bob calls alice and the call is up; returns both dialogs. */
async function call(alice, bob) {
  const tx = bob.request('INVITE', 'sip:alice@ims.test', { body: SDP('bob') });
  const inv = await alice.waitRequest('INVITE');
  const ad = alice.respond(inv, 200, 'OK', { body: SDP('alice') });
  const ok = await bob.waitStatus(200, 'INVITE');
  const bd = bob.dialogFrom(tx, ok);
  bob.inDialog(bd, 'ACK');
  await alice.waitRequest('ACK');
  return { ad, bd };
}

test('a proven reconnect within the grace keeps the call: re-INVITE, INFO and BYE over the new WebSocket', async () => {
  const key = dpopKey();
  const alice = await Ua.register(stack, 'alice', { dpop: key });
  const bob = await Ua.register(stack, 'bob');
  const { ad, bd } = await call(alice, bob);
  alice.ws.close(); // the network breaks
  await logShows(/recover: flow \d+ closed; its calls wait 2 s/);
  await alice.connect(stack); // a new WebSocket, REGISTER with a proof by the same key
  await logShows(/recover: flow \d+ recovered by connection \d+ with a DPoP proof; 1 dialogs carried over/);
  // the far end's re-INVITE follows the old flow token and arrives on the new connection
  bob.inDialog(bd, 'INVITE', { body: SDP('bob2') });
  const reinv = await alice.waitRequest('INVITE');
  assert.equal(reinv.body, SDP('bob2'));
  alice.respond(reinv, 200, 'OK', { body: SDP('alice2') });
  await bob.waitStatus(200, 'INVITE');
  bob.inDialog(bd, 'ACK');
  await alice.waitRequest('ACK');
  // the client's own in-dialog request on the new connection is accepted in the old dialog
  alice.inDialog(ad, 'INFO', { extra: ['Info-Package: x'] });
  const info = await bob.waitRequest('INFO');
  bob.respond(info, 200, 'OK');
  await alice.waitStatus(200, 'INFO');
  // past the grace: the call is still up (no BYE on anyone's behalf)
  await sleep(GRACE * 1000 + 500);
  assert.equal(bob.requests.filter((r) => r.start.startsWith('BYE')).length, 0, 'no BYE to bob');
  bob.inDialog(bd, 'BYE');
  const bye = await alice.waitRequest('BYE');
  alice.respond(bye, 200, 'OK');
  await bob.waitStatus(200, 'BYE');
  assert.equal(await metric('imsgw_flow_recoveries_total{result="recovered"}'), 1);
  assert.equal(await metric('imsgw_flow_recovery_dialogs_total'), 1);
  for (let i = 0; i < 50 && (await metric('imsgw_dialogs')) > 0; i++) await sleep(20);
  assert.equal(await metric('imsgw_dialogs'), 0);
  assert.equal(await metric('imsgw_proxy_transactions'), 0);
  alice.close();
  bob.close();
});

test('without the key nothing moves: the stolen token is refused and bob gets BYE after the grace', async () => {
  const key = dpopKey();
  const alice = await Ua.register(stack, 'alice', { dpop: key });
  const bob = await Ua.register(stack, 'bob');
  await call(alice, bob);
  const refused0 = await metric('imsgw_flow_recoveries_total{result="refused"}');
  alice.ws.close();
  await sleep(100);
  // a thief with alice's token and instance, but not her key: no proof, then a proof by its own key
  const thief = await SipWs.open(stack.wsUrl);
  const contact = `Contact: ${alice.contact};+sip.instance="<urn:uuid:${alice.instance}>";reg-id=1`;
  const steal = (extra) => thief.request(registerMsg({ callId: `thief-${Date.now()}`, auth: `DPoP ${alice.token}`, extra })
    .replace(/Contact: [^\r]*/, contact));
  let r = await steal([]);
  assert.equal(r.status, 401);
  assert.match(r.headers['www-authenticate'].join(), /DPoP header is missing/);
  const other = dpopKey();
  r = await steal([`DPoP: ${proof(other, { htm: 'REGISTER', htu: 'sip:ims.test', nonce: r.headers['dpop-nonce'][0], accessToken: alice.token })}`]);
  assert.equal(r.status, 401);
  assert.match(r.headers['www-authenticate'].join(), /another key/);
  assert.ok(await metric('imsgw_flow_recoveries_total{result="refused"}') >= refused0 + 2);
  const bye = await bob.waitRequest('BYE', GRACE * 1000 + 3000);
  assert.match(bye.headers.reason?.[0] || '', /WebSocket closed/);
  bob.respond(bye, 200, 'OK');
  assert.equal(thief.queue.filter((m) => /^(BYE|INVITE) /.test(m)).length, 0, 'nothing reached the thief');
  for (let i = 0; i < 100 && ((await metric('imsgw_dialogs')) > 0 || (await metric('imsgw_proxy_transactions')) > 0); i++) await sleep(20);
  assert.equal(await metric('imsgw_dialogs'), 0);
  assert.equal(await metric('imsgw_proxy_transactions'), 0);
  assert.ok(await metric('imsgw_flow_recoveries_total{result="expired"}') >= 1);
  thief.close();
  bob.close();
});
