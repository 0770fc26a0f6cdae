// Issue 13: back-pressure towards the IMS core (gateway/reg_admit.c). A scripted S-CSCF
// (fake-scscf.mjs) holds REGISTERs unanswered, so the gateway's bound on REGISTERs in flight is
// reached exactly: the next ones wait in its queue and reach the core as places come free, and
// only the surplus beyond the queue — or one that waited too long — is answered 503 with a
// Retry-After, at once. Functional checks only: nothing here measures time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, token, SipWs, registerMsg, sleep } from './harness.mjs';
import { startFakeScscf } from './fake-scscf.mjs';

let stack, scscf;
const held = []; // [{ m, reply }] REGISTERs the S-CSCF has not answered yet

before(async () => {
  scscf = await startFakeScscf({
    onRequest: (m, reply) => {
      if (!m.start.startsWith('REGISTER')) return false;
      held.push({ m, reply });
      return true;
    },
  });
  stack = await startStack({
    gatewayArgs: ['--next-hop', `sip:127.0.0.1:${scscf.port};transport=tcp`,
      '--register-inflight-max', '2', '--register-queue-max', '2', '--register-queue-ms', '60000'],
  });
});
after(async () => {
  const results = await stack.stop();
  await scscf.stop();
  assert.deepEqual(results['imsgw-gateway'], { code: 0, sig: null }, 'the gateway stops cleanly');
});

/** The S-CSCF's 200 to a held REGISTER. */
function answer({ m, reply }) {
  const h = m.headers;
  reply(['SIP/2.0 200 OK', ...h.via.map((v) => `Via: ${v}`), `From: ${h.from[0]}`, `To: ${h.to[0]};tag=bp`,
    `Call-ID: ${h['call-id'][0]}`, `CSeq: ${h.cseq[0]}`,
    `Contact: ${h.contact[0].replace(/;expires=\d+/, '')};expires=600`, 'Content-Length: 0']);
}

async function metric(name) {
  const text = await (await fetch(`${stack.httpUrl}/metrics`)).text();
  return Number((new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)$`, 'm').exec(text) || [])[1]);
}
async function until(what, cond) {
  for (let i = 0; i < 250; i++) {
    if (await cond()) return;
    await sleep(20);
  }
  assert.fail(`timed out waiting for ${what}`);
}

let seq = 0;
/** A fresh flow sending one token REGISTER (its own Call-ID). */
async function sendRegister() {
  const c = await SipWs.open(stack.wsUrl);
  c.send(registerMsg({ auth: `Bearer ${token(stack, 'alice')}`, callId: `bp-${process.pid}-${++seq}` }));
  return c;
}
const queuedMetric = () => metric('imsgw_register_queued');

test('REGISTERs beyond the in-flight bound wait for a place; only the surplus beyond the queue gets 503 + Retry-After', async () => {
  held.length = 0;
  const inFlight = [await sendRegister()];
  await until('the first REGISTER at the core', () => held.length === 1);
  inFlight.push(await sendRegister());
  await until('the second REGISTER at the core', () => held.length === 2);
  assert.equal(await metric('imsgw_register_inflight'), 2);

  const waiting = [await sendRegister()];
  await until('one REGISTER queued', async () => (await queuedMetric()) === 1);
  waiting.push(await sendRegister());
  await until('two REGISTERs queued', async () => (await queuedMetric()) === 2);

  // The queue is full: the next one is refused at once, with a Retry-After spread over 2..10 s.
  const surplus = await sendRegister();
  const refused = await surplus.next();
  assert.match(refused, /^SIP\/2\.0 503 /);
  const after = Number((/^Retry-After:\s*(\d+)/im.exec(refused) || [])[1]);
  assert.ok(after >= 2 && after <= 10, `Retry-After ${after}`);
  assert.equal(held.length, 2, 'the core saw only the REGISTERs in flight');
  assert.equal(await metric('imsgw_register_total{outcome="overloaded"}'), 1);

  // Each answer frees a place, which the oldest waiter takes: all queued REGISTERs end with 200.
  answer(held[0]);
  assert.match(await inFlight[0].next(), /^SIP\/2\.0 200 /);
  await until('a queued REGISTER sent on', () => held.length === 3);
  answer(held[1]);
  answer(held[2]);
  assert.match(await inFlight[1].next(), /^SIP\/2\.0 200 /);
  assert.match(await waiting[0].next(), /^SIP\/2\.0 200 /);
  await until('the last queued REGISTER sent on', () => held.length === 4);
  answer(held[3]);
  assert.match(await waiting[1].next(), /^SIP\/2\.0 200 /);
  assert.equal(await queuedMetric(), 0);
  assert.equal(await metric('imsgw_register_queued_total'), 2);
  await until('no REGISTER in flight', async () => (await metric('imsgw_register_inflight')) === 0);
  assert.equal(await metric('imsgw_register_total{outcome="overloaded"}'), 1, 'no other 503');
  for (const c of [...inFlight, ...waiting, surplus]) c.close();
});

test('a queued REGISTER whose flow closed gives its turn to the next', async () => {
  held.length = 0;
  const a = await sendRegister();
  const b = await sendRegister();
  await until('two REGISTERs at the core', () => held.length === 2);
  const gone = await sendRegister();
  await until('one REGISTER queued', async () => (await queuedMetric()) === 1);
  const next = await sendRegister();
  await until('two REGISTERs queued', async () => (await queuedMetric()) === 2);
  gone.close();
  await gone.closed;
  answer(held[0]);
  assert.match(await a.next(), /^SIP\/2\.0 200 /);
  // The closed flow's REGISTER is dropped, not sent: the next waiter's is the third at the core.
  await until('the next waiter sent on', () => held.length === 3);
  assert.match(held[2].m.headers['call-id'][0], new RegExp(`^bp-${process.pid}-${seq}$`));
  answer(held[1]);
  answer(held[2]);
  assert.match(await b.next(), /^SIP\/2\.0 200 /);
  assert.match(await next.next(), /^SIP\/2\.0 200 /);
  for (const c of [a, b, next]) c.close();
});

test('REGISTERs still waiting when the gateway stops are dropped cleanly', async () => {
  held.length = 0;
  const flows = [await sendRegister(), await sendRegister()];
  await until('two REGISTERs at the core', () => held.length === 2);
  flows.push(await sendRegister());
  await until('one REGISTER queued', async () => (await queuedMetric()) === 1);
  // Exit code 0 and, in the ASan build, no leak (LeakSanitizer runs at exit).
  assert.deepEqual(await stack.gateway.stop(), { code: 0, sig: null });
  for (const c of flows) c.close();
});

test('a REGISTER that waits longer than register-queue-ms gets 503 + Retry-After and never reaches the core', async () => {
  held.length = 0;
  await stack.startGateway(['--register-queue-ms', '200']);
  const a = await sendRegister();
  const b = await sendRegister();
  await until('two REGISTERs at the core', () => held.length === 2);
  const late = await sendRegister();
  const refused = await late.next();
  assert.match(refused, /^SIP\/2\.0 503 /);
  assert.match(refused, /^Retry-After:\s*\d+/im);
  assert.equal(held.length, 2);
  assert.equal(await metric('imsgw_register_queued'), 0);
  for (const c of [a, b, late]) c.close();
});
