// Issue 13 (scale bench): connections that close while their reg-event SUBSCRIBE is still
// unanswered, with the answers arriving at the same moment. A subscription ended that way was
// freed twice (once for the close, once for the late answer): workers died on SIGSEGV when
// thousands of connections closed at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, token, SipWs, registerMsg, sleep } from './harness.mjs';
import { startFakeScscf } from './fake-scscf.mjs';

const USERS = Array.from({ length: 10 }, (_, i) => `race${i}`);
let stack, scscf;
const held = []; // SUBSCRIBEs the S-CSCF has not answered yet: { m, reply }

before(async () => {
  scscf = await startFakeScscf({
    onRequest: (m, reply) => {
      if (!m.start.startsWith('SUBSCRIBE') || m.headers.expires?.[0] === '0') return false;
      held.push({ m, reply });
      return true;
    },
  });
  stack = await startStack({ users: USERS, gatewayArgs: ['--next-hop', `sip:127.0.0.1:${scscf.port};transport=tcp`] });
});
after(async () => {
  const results = await stack.stop();
  await scscf.stop();
  assert.deepEqual(results['imsgw-gateway'], { code: 0, sig: null }, 'the gateway stops cleanly');
});

test('SUBSCRIBE answers that arrive after their connections closed: each subscription is freed once', async () => {
  const clients = [];
  for (const user of USERS) {
    const c = await SipWs.open(stack.wsUrl);
    const r = await c.request(registerMsg({ user, callId: `race-${user}-${process.pid}`, auth: `Bearer ${token(stack, user)}` }));
    assert.equal(r.status, 200);
    clients.push(c);
  }
  for (let i = 0; i < 250 && held.length < USERS.length; i++) await sleep(20);
  assert.equal(held.length, USERS.length, 'every registration subscribed');
  // A freed subscription's idle free runs only when no other source is ready: a client that
  // floods the gateway with WebSocket pings keeps one ready, so the closes are handled first and
  // the answers, sent just after, reach the ending subscriptions before those idle frees.
  const flood = await SipWs.open(stack.wsUrl);
  const pid = stack.gateway.proc.pid;
  process.kill(pid, 'SIGSTOP');
  try {
    for (let i = 0; i < 200000; i++) flood.ws.ping();
    for (const c of clients) c.ws.terminate(); // the TCP connections end at once
    await sleep(300);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  await sleep(5);
  for (const { m, reply } of held) {
    const h = m.headers;
    reply(['SIP/2.0 200 OK', ...h.via.map((v) => `Via: ${v}`), `From: ${h.from[0]}`, `To: ${h.to[0]};tag=race`,
      `Call-ID: ${h['call-id'][0]}`, `CSeq: ${h.cseq[0]}`, 'Expires: 600',
      `Contact: <sip:127.0.0.1:${scscf.port};transport=tcp>`, 'Content-Length: 0']);
  }
  await sleep(1000);
  assert.equal(stack.gateway.proc.exitCode, null, 'the gateway is still running');
  assert.equal(stack.gateway.proc.signalCode, null);
  const res = await fetch(`${stack.httpUrl}/healthz`);
  assert.equal(res.status, 200);
  flood.close();
});
