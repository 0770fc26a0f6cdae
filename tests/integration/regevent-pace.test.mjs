// Issue 13: reg-event SUBSCRIBEs are paced (gateway/regevent_pace.c). A scripted S-CSCF
// (fake-scscf.mjs) holds the SUBSCRIBEs unanswered, so the bound regevent-inflight-max is reached
// exactly: after a burst of registrations only that many SUBSCRIBEs reach the core, the others go
// in turn as answers come; a flow that closes while its SUBSCRIBE waits never subscribes (and the
// gateway frees it cleanly: ASan build); the reg-event NOTIFY of a paced subscription still ends
// the registration. Functional checks only: nothing here measures time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, token, SipWs, registerMsg, sleep } from './harness.mjs';
import { startFakeScscf } from './fake-scscf.mjs';

const users = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan'];
let stack, scscf;
const held = []; // [{ m, reply }] SUBSCRIBEs the S-CSCF has not answered yet

before(async () => {
  scscf = await startFakeScscf({
    onRequest: (m, reply) => {
      // un-SUBSCRIBEs (Expires: 0) get the fake's own 200 at once
      if (!m.start.startsWith('SUBSCRIBE') || m.headers.expires?.[0] === '0') return false;
      held.push({ m, reply });
      return true;
    },
  });
  stack = await startStack({
    users,
    gatewayArgs: ['--next-hop', `sip:127.0.0.1:${scscf.port};transport=tcp`, '--regevent-inflight-max', '2'],
  });
});
after(async () => {
  const results = await stack.stop();
  await scscf.stop();
  assert.deepEqual(results['imsgw-gateway'], { code: 0, sig: null }, 'the gateway stops cleanly');
});

async function metric(name) {
  const text = await (await fetch(`${stack.httpUrl}/metrics`)).text();
  return Number((new RegExp(`^${name} (\\d+)$`, 'm').exec(text) || [])[1]);
}
async function until(what, cond) {
  for (let i = 0; i < 250; i++) {
    if (await cond()) return;
    await sleep(20);
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** A fresh flow, registered (200) for user. */
async function register(user) {
  const c = await SipWs.open(stack.wsUrl);
  c.send(registerMsg({ user, auth: `Bearer ${token(stack, user)}`, callId: `pace-${user}-${process.pid}` }));
  assert.match(await c.next(), /^SIP\/2\.0 200 /);
  return c;
}

const userOf = ({ m }) => /sip:([a-z]+)@/.exec(m.headers.to[0])[1];
const subscribedCount = () => (stack.gateway.log.match(/subscribed to the registration state of/g) || []).length;

/** The S-CSCF's 200 to a held SUBSCRIBE, granting expires seconds. */
function answer({ m, reply }, expires = 600) {
  const h = m.headers;
  const to = /tag=/.test(h.to[0]) ? h.to[0] : `${h.to[0]};tag=n-${userOf({ m })}`;
  reply(['SIP/2.0 200 OK', ...h.via.map((v) => `Via: ${v}`), `From: ${h.from[0]}`, `To: ${to}`,
    `Call-ID: ${h['call-id'][0]}`, `CSeq: ${h.cseq[0]}`, `Expires: ${expires}`,
    `Contact: <sip:orig@127.0.0.1:${scscf.port};transport=tcp>`, 'Content-Length: 0']);
}

test('after a registration burst at most regevent-inflight-max SUBSCRIBEs are with the core; the rest follow in turn', async () => {
  held.length = 0;
  const flows = {};
  for (const u of users.slice(0, 5)) flows[u] = await register(u);
  await until('two SUBSCRIBEs at the core', () => held.length === 2);
  await sleep(300);
  assert.equal(held.length, 2, 'no more than the bound');
  assert.deepEqual(held.map(userOf), ['alice', 'bob'], 'in the order of the registrations');
  assert.equal(await metric('imsgw_regevent_inflight'), 2);
  assert.equal(await metric('imsgw_regevent_queued'), 3);

  // Each answer gives its place to the oldest waiter.
  for (let k = 0; k < 5; k++) {
    answer(held[k]);
    if (k + 2 < 5) await until(`SUBSCRIBE ${k + 3} at the core`, () => held.length === k + 3);
    assert.ok(held.length <= k + 3, 'never more than the bound in flight');
  }
  assert.deepEqual(held.map(userOf), users.slice(0, 5));
  await until('all five subscribed', () => subscribedCount() === 5);
  assert.equal(await metric('imsgw_regevent_queued'), 0);
  assert.equal(await metric('imsgw_regevent_inflight'), 0);
  assert.equal(await metric('imsgw_regevent_queued_total'), 3);

  // The reg-event NOTIFY of a subscription that had waited its turn still ends the registration.
  const s = held[4].m.headers;
  const body = '<?xml version="1.0"?>\r\n<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="0" state="full">\r\n'
    + '<registration aor="sip:erin@ims.test" id="r1" state="terminated"></registration>\r\n</reginfo>\r\n';
  const notify = [`NOTIFY ${/<([^>]+)>/.exec(s.contact[0])[1]} SIP/2.0`,
    `Via: SIP/2.0/TCP 127.0.0.1:${scscf.port};branch=z9hG4bK-pace-notify`, 'Max-Forwards: 70',
    `From: ${s.to[0]};tag=n-erin`, `To: ${s.from[0]}`, `Call-ID: ${s['call-id'][0]}`, 'CSeq: 1 NOTIFY',
    `Contact: <sip:orig@127.0.0.1:${scscf.port};transport=tcp>`, 'Event: reg',
    'Subscription-State: terminated;reason=deactivated', 'Content-Type: application/reginfo+xml',
    `Content-Length: ${Buffer.byteLength(body)}`];
  const closed = flows.erin.closed;
  [...scscf.sockets].pop().write(notify.join('\r\n') + '\r\n\r\n' + body);
  await until('the 200 to the NOTIFY', () => scscf.responses.some((r) => / NOTIFY$/.test(r.headers.cseq[0])));
  assert.equal(scscf.responses.find((r) => / NOTIFY$/.test(r.headers.cseq[0])).status, 200);
  assert.equal(await closed, 4401, 'the flow closed: the network ended the registration');
  for (const c of Object.values(flows)) c.close();
});

test('a flow that closes while its SUBSCRIBE waits never subscribes; the next waiter takes its turn', async () => {
  held.length = 0;
  const [f, g, h, i] = [await register('frank'), await register('grace'), await register('heidi'), await register('ivan')];
  await until('two SUBSCRIBEs at the core', () => held.length === 2);
  await until('two SUBSCRIBEs waiting', async () => (await metric('imsgw_regevent_queued')) === 2);
  h.close();
  await h.closed;
  await until('heidi\'s SUBSCRIBE dropped', async () => (await metric('imsgw_regevent_queued')) === 1);
  answer(held[0]);
  await until('the next waiter at the core', () => held.length === 3);
  assert.equal(userOf(held[2]), 'ivan');
  answer(held[1]);
  answer(held[2]);
  await until('three more subscribed', () => subscribedCount() === 8);
  await sleep(200);
  assert.equal(held.length, 3, 'no SUBSCRIBE for the closed flow');
  assert.ok(!scscf.received.some((m) => m.start.startsWith('SUBSCRIBE') && /heidi/.test(m.headers.to[0])));
  for (const c of [f, g, i]) c.close();
});

test('a subscription is refreshed in its dialog before it expires (one sweep timer, not one per subscription)', async () => {
  held.length = 0;
  const c = await register('grace');
  await until('the SUBSCRIBE at the core', () => held.length === 1);
  const t0 = Date.now();
  answer(held[0], 45); // refresh due at 30 s (2/3 of 45, at least REGEVENT_MIN_REFRESH_S)
  await until('subscribed', () => /subscribed to the registration state of sip:grace@/.test(stack.gateway.log));
  for (let i = 0; i < 200 && held.length < 2; i++) await sleep(200);
  assert.equal(held.length, 2, 'a re-SUBSCRIBE within 40 s');
  const waited = (Date.now() - t0) / 1000;
  assert.ok(waited >= 29 && waited < 45, `refreshed after ${waited} s, before the 45 s expiry`);
  const [first, again] = [held[0].m.headers, held[1].m.headers];
  assert.equal(again['call-id'][0], first['call-id'][0], 'in the same dialog');
  assert.match(again.to[0], /tag=n-grace/);
  assert.equal(again.expires[0], '600000');
  answer(held[1]);
  c.close();
});

test('SUBSCRIBEs still waiting when the gateway stops are dropped cleanly', async () => {
  held.length = 0;
  const flows = [];
  for (const u of ['alice', 'bob', 'carol', 'dave']) flows.push(await register(u));
  await until('two SUBSCRIBEs waiting', async () => (await metric('imsgw_regevent_queued')) === 2);
  // Exit code 0 and, in the ASan build, no leak (LeakSanitizer runs at exit).
  assert.deepEqual(await stack.gateway.stop(), { code: 0, sig: null });
  for (const c of flows) c.close();
});
