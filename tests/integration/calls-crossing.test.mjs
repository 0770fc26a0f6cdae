// A caller gives up (its WebSocket closes) while the callee answers: the gateway's CANCEL and the
// callee's 200 cross. RFC 3261 §15: the 2xx must still be acknowledged and the call ended, or the
// callee stays in a call nobody hears. A scripted S-CSCF (fake-scscf.mjs) makes the crossing exact.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, sleep } from './harness.mjs';
import { Ua, SDP } from './sipua.mjs';
import { startFakeScscf } from './fake-scscf.mjs';

let stack, scscf, invite;
const calleeContact = '<sip:bob@127.0.0.1:5999;transport=tcp>';

function answer(req, status, reason, reply, extra = []) {
  const h = req.headers;
  reply([`SIP/2.0 ${status} ${reason}`, ...h.via.map((v) => `Via: ${v}`), `From: ${h.from[0]}`,
    `To: ${h.to[0]}${/tag=/.test(h.to[0]) ? '' : ';tag=callee'}`, `Call-ID: ${h['call-id'][0]}`,
    `CSeq: ${h.cseq[0]}`, ...extra, 'Content-Length: 0']);
}

before(async () => {
  scscf = await startFakeScscf({
    onRequest(m, reply) {
      if (m.start.startsWith('INVITE')) {
        invite = m;
        answer(m, 180, 'Ringing', reply, [`Contact: ${calleeContact}`]);
        return true;
      }
      if (m.start.startsWith('CANCEL')) {
        answer(m, 200, 'OK', reply);
        answer(invite, 200, 'OK', reply, [`Contact: ${calleeContact}`]); // already on its way
        return true;
      }
      return m.start.startsWith('ACK');
    },
  });
  stack = await startStack({ gatewayArgs: ['--next-hop', `sip:127.0.0.1:${scscf.port};transport=tcp`] });
});
after(async () => {
  const results = await stack.stop();
  await scscf.stop();
  assert.deepEqual(results['imsgw-gateway'], { code: 0, sig: null }, 'the gateway stops cleanly');
});

const metric = async (name) => {
  const text = await (await fetch(`${stack.httpUrl}/metrics`)).text();
  const m = new RegExp(`^${name} ([0-9.]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
};

async function received(method, timeoutMs = 5000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const m = scscf.received.find((r) => r.start.startsWith(`${method} `));
    if (m || Date.now() > until) return m;
    await sleep(20);
  }
}

test('the 200 that crossed the CANCEL of a closed flow is acknowledged, then the call is ended with BYE', async () => {
  const alice = await Ua.register(stack, 'alice');
  alice.request('INVITE', 'sip:bob@ims.test', { body: SDP('alice') });
  await alice.waitStatus(180, 'INVITE');
  alice.close();
  assert.ok(await received('CANCEL'), 'the INVITE is cancelled upstream when the flow closes');
  const ack = await received('ACK');
  assert.ok(ack, 'the crossing 200 is acknowledged');
  const invSeq = Number(invite.headers.cseq[0].split(' ')[0]);
  assert.equal(ack.headers.cseq[0], `${invSeq} ACK`);
  assert.equal(ack.headers['call-id'][0], invite.headers['call-id'][0]);
  assert.match(ack.headers.to[0], /tag=callee/);
  const bye = await received('BYE');
  assert.ok(bye, 'the call is ended on the caller\'s behalf');
  assert.match(bye.start, /^BYE sip:bob@127\.0\.0\.1:5999/, 'to the callee\'s Contact');
  assert.equal(bye.headers.cseq[0], `${invSeq + 1} BYE`);
  await sleep(300);
  assert.equal(await metric('imsgw_dialogs'), 0);
  assert.equal(await metric('imsgw_proxy_transactions'), 0);
});
