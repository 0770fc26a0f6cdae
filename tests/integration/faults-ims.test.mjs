// Issue 9, faults on the IMS side (docs/faults.md): the core frozen, down, restarted, and the TCP
// trunk closed in the middle of transactions. Clients must get a final answer within the
// gateway's sip-transaction-timeout (Timer B/F) plus Timer C, never a hang; nothing may leak
// (transactions and dialogs back to 0, every daemon exits 0 under ASan).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startStack, sleep, registerMsg, token } from './harness.mjs';
import { Ua, SDP } from './sipua.mjs';

const TX_TIMEOUT_S = 2; // --sip-transaction-timeout for this suite
const TIMER_C_S = 2; // --timer-c for this suite
const SLACK_MS = 2500; // loop and process scheduling on a busy, shared 2-core machine

/** A TCP relay between gateway and stub, so a test can close the trunk under the gateway. When
 * the stub cannot be reached it resets the gateway's connection, as a closed port would. */
function startRelay(target) {
  const pairs = new Set();
  const srv = net.createServer((down) => {
    const up = net.connect(target(), '127.0.0.1');
    const pair = { down, up };
    pairs.add(pair);
    down.pipe(up);
    up.pipe(down);
    up.on('error', () => down.resetAndDestroy());
    down.on('error', () => up.destroy());
    const end = () => { pairs.delete(pair); up.destroy(); down.destroy(); };
    up.on('close', end);
    down.on('close', end);
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({
    port: srv.address().port,
    /** Closes every relayed connection (FIN both ways); bytes in flight are lost. */
    cut() { for (const p of pairs) { p.up.destroy(); p.down.destroy(); } pairs.clear(); },
    close() { this.cut(); srv.close(); },
  })));
}

let stack, relay, alice, bob;
before(async () => {
  let stubPort = 0;
  relay = await startRelay(() => stubPort);
  stack = await startStack({
    users: ['alice', 'bob', 'carol'],
    gatewayArgs: ['--next-hop', `sip:127.0.0.1:${relay.port};transport=tcp`,
      '--sip-transaction-timeout', String(TX_TIMEOUT_S), '--timer-c', String(TIMER_C_S)],
    // initial requests follow the Service-Route (issue 11): point it through the relay too
    stubArgs: ['--service-route', `sip:orig@127.0.0.1:${relay.port};transport=tcp;lr`],
  });
  stubPort = stack.stubPort;
  alice = await Ua.register(stack, 'alice');
  bob = await Ua.register(stack, 'bob');
  alice.instance = '5f0c9a7e-3b1d-4c2e-9a51-0e8f6b2d7c01';
  bob.instance = '5f0c9a7e-3b1d-4c2e-9a51-0e8f6b2d7c02';
});
after(async () => {
  alice?.close();
  bob?.close();
  if (stack.stub.proc.signalCode === null) stack.stub.proc.kill('SIGCONT');
  const results = await stack.stop();
  relay.close();
  for (const [name, r] of Object.entries(results)) assert.deepEqual(r, { code: 0, sig: null }, name);
});

const metric = async (name) => {
  const text = await (await fetch(`${stack.httpUrl}/metrics`)).text();
  const m = new RegExp(`^${name} ([0-9.]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
};
/** Waits (bounded) until transactions and dialogs are back to zero. */
async function nothingLeft(timeoutMs = 3000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if ((await metric('imsgw_proxy_transactions')) === 0 && (await metric('imsgw_dialogs')) === 0) return;
    await sleep(50);
  }
  assert.equal(await metric('imsgw_proxy_transactions'), 0, 'transactions back to 0');
  assert.equal(await metric('imsgw_dialogs'), 0, 'dialogs back to 0');
}

/** A re-REGISTER on the UA's own WebSocket (the same flow), with a fresh token. */
async function reRegister(ua, cseq) {
  const t0 = Date.now();
  ua.send(registerMsg({ user: ua.user, callId: `reg-${ua.host}`, cseq, auth: `Bearer ${token(stack, ua.user)}` })
    .replace(/Contact: [^\r]*/, `Contact: ${ua.contact};+sip.instance="<urn:uuid:${ua.instance}>";reg-id=1`));
  const rsp = await ua.waitResponse((r) => / REGISTER$/.test(r.headers.cseq[0]), (TX_TIMEOUT_S + 30) * 1000);
  return { status: rsp.status, ms: Date.now() - t0 };
}

async function timed(ua, method, target, opts) {
  const t0 = Date.now();
  ua.request(method, target, opts);
  const rsp = await ua.waitResponse((r) => r.status >= 200 && r.headers.cseq[0].endsWith(method), 40000);
  return { status: rsp.status, ms: Date.now() - t0 };
}

test('IMS core frozen: REGISTER, MESSAGE and INVITE get 408 within the transaction timeout', async () => {
  stack.stub.proc.kill('SIGSTOP');
  try {
    const bound = TX_TIMEOUT_S * 1000 + SLACK_MS;
    const [reg, msg, inv] = await Promise.all([reRegister(alice, 2),
      timed(alice, 'MESSAGE', 'sip:carol@ims.test', { body: 'anyone?', contentType: 'text/plain' }),
      timed(alice, 'INVITE', 'sip:carol@ims.test', { body: SDP('alice') })]);
    assert.equal(reg.status, 408, 'REGISTER: 408 Request Timeout');
    assert.equal(msg.status, 408, 'MESSAGE: 408 Request Timeout');
    assert.equal(inv.status, 408, 'INVITE: 408 Request Timeout');
    for (const r of [reg, msg, inv]) assert.ok(r.ms <= bound, `answered in ${r.ms} ms (bound ${bound})`);
  } finally {
    stack.stub.proc.kill('SIGCONT');
  }
  await nothingLeft(); // the stub's late answers (480 for carol) find no transaction: dropped
});

test('IMS core down: REGISTER and MESSAGE get 503 at once', async () => {
  assert.deepEqual(await stack.stub.stop(), { code: 0, sig: null });
  relay.cut(); // the stub's exit closed the trunk; make sure the relay holds nothing either
  const reg = await reRegister(alice, 3);
  const msg = await timed(alice, 'MESSAGE', 'sip:bob@ims.test', { body: 'down?', contentType: 'text/plain' });
  assert.equal(reg.status, 503);
  assert.equal(msg.status, 503);
  for (const r of [reg, msg]) assert.ok(r.ms < SLACK_MS, `answered in ${r.ms} ms`);
  await nothingLeft();
});

test('IMS core restarted: the same flows register again, then messages flow', async () => {
  await stack.startStub();
  assert.equal((await reRegister(alice, 4)).status, 200);
  assert.equal((await reRegister(bob, 2)).status, 200);
  alice.request('MESSAGE', 'sip:bob@ims.test', { body: 'back', contentType: 'text/plain' });
  const m = await bob.waitRequest('MESSAGE');
  bob.respond(m, 200, 'OK');
  assert.equal((await alice.waitStatus(200, 'MESSAGE')).status, 200);
  await nothingLeft();
});

test('TCP trunk cut mid-MESSAGE: the sender gets 408, nothing leaks', async () => {
  const t0 = Date.now();
  alice.request('MESSAGE', 'sip:bob@ims.test', { body: 'cut', contentType: 'text/plain' });
  const m = await bob.waitRequest('MESSAGE');
  relay.cut();
  bob.respond(m, 200, 'OK'); // reaches the stub; its answer upstream has no connection left
  const rsp = await alice.waitResponse((r) => r.status >= 200 && r.headers.cseq[0].endsWith('MESSAGE'), 40000);
  assert.equal(rsp.status, 408);
  assert.ok(Date.now() - t0 <= TX_TIMEOUT_S * 1000 + SLACK_MS, `answered in ${Date.now() - t0} ms`);
  await nothingLeft();
});

test('TCP trunk cut mid-INVITE after 180: Timer C, CANCEL, then 408 to the caller; nothing leaks', async () => {
  const t0 = Date.now();
  alice.request('INVITE', 'sip:bob@ims.test', { body: SDP('alice') });
  const inv = await bob.waitRequest('INVITE');
  bob.respond(inv, 180, 'Ringing');
  await alice.waitStatus(180, 'INVITE');
  relay.cut();
  bob.respond(inv, 486, 'Busy Here'); // lost on the way back, like the 180's successors
  const rsp = await alice.waitResponse((r) => r.status >= 200 && r.headers.cseq[0].endsWith('INVITE'), 40000);
  const bound = (TIMER_C_S + TX_TIMEOUT_S) * 1000 + SLACK_MS;
  assert.ok([408, 487].includes(rsp.status), `final answer ${rsp.status}`);
  assert.ok(Date.now() - t0 <= bound, `answered in ${Date.now() - t0} ms (bound ${bound})`);
  await nothingLeft(PROXY_ACK_WAIT_MS + 3000);
  // the trunk comes back by itself: a new request opens a new connection
  assert.equal((await reRegister(alice, 5)).status, 200);
});

const PROXY_ACK_WAIT_MS = 4000;
