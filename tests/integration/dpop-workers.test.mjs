// Issue 14 with workers (issue 13): the DPoP nonce key is derived from the flow key the workers
// share, so a nonce one worker gave is accepted by the other (no extra round trip after a
// reconnect that lands elsewhere), and the jti replay cache is shared too, so a proof used at one
// worker is refused at the other. Flow recovery across workers: the held calls live in the
// worker that had the old WebSocket, and the shared port lets the kernel pick any worker; with
// recovery-port each worker also listens on a port of its own and names it in the 200 to a
// DPoP-proven REGISTER (Flow-Recovery-URI), so a client reconnecting there keeps its call every
// time. Which worker a connection landed on shows in the Path of the REGISTER's 200 (each
// worker's own SIP port).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startStack, freePortRange, sleep, SipWs, registerMsg, token } from './harness.mjs';
import { Ua, SDP } from './sipua.mjs';
import { dpopKey, proof } from './dpop.mjs';

const GRACE = 2;
const TRIALS = Number(process.env.IMSGW_RECOVERY_TRIALS || 20);

let stack, sipPort, recoveryPort;
const sockets = [];

before(async () => {
  sipPort = await freePortRange(2);
  recoveryPort = await freePortRange(2);
  const users = ['alice', 'bob', ...['r', 'q'].flatMap((p) => Array.from({ length: TRIALS }, (_, i) => `${p}${i}`))];
  stack = await startStack({ users, gatewayArgs: ['--workers', '2', '--sip-listen', `sip:127.0.0.1:${sipPort}`,
    '--flow-recovery-grace', String(GRACE), '--recovery-port', String(recoveryPort)] });
  // both workers listen before connections are counted on them (health answers come from either)
  for (let i = 0; i < 100 && (stack.gateway.log.match(/ listening: /g) || []).length < 2; i++) await sleep(50);
  assert.equal((stack.gateway.log.match(/ listening: /g) || []).length, 2, 'both workers listen');
});
after(async () => {
  if (process.env.IMSGW_DEBUG_LOG) console.log(stack.gateway.log);
  for (const s of sockets) s.close();
  const results = await stack.stop();
  for (const [name, r] of Object.entries(results)) assert.deepEqual(r, { code: 0, sig: null }, name);
});

const key = dpopKey();
let tok;
let seq = 0;

/** REGISTER on ws with a proof (the given one, or a fresh one with nonce). */
function register(ws, { nonce, dpop } = {}) {
  tok ??= token(stack, 'alice', ['--jkt', key.jkt]);
  dpop ??= proof(key, { htm: 'REGISTER', htu: 'sip:ims.test', nonce, accessToken: tok });
  return { dpop, rsp: ws.request(registerMsg({ callId: `w-${process.pid}`, cseq: ++seq, auth: `DPoP ${tok}`, extra: [`DPoP: ${dpop}`] })) };
}

/** The worker that answered: its SIP port in the Path of the 200. */
function workerOf(rsp) {
  const path = (rsp.headers.path || []).join(',');
  const m = /@127\.0\.0\.1:(\d+);/.exec(path);
  assert.ok(m, `a Path naming the worker: ${path}`);
  return Number(m[1]) - sipPort;
}

async function open() {
  const ws = await SipWs.open(stack.wsUrl);
  sockets.push(ws);
  return ws;
}

test('a nonce from one worker is accepted by the other; a proof used at one is refused at the other', async () => {
  // the first connection: the nonce round trip, then 200
  const first = await open();
  let r = await register(first).rsp;
  assert.equal(r.status, 401);
  assert.match(r.headers['www-authenticate'][0], /use_dpop_nonce/);
  const nonce = r.headers['dpop-nonce'][0];
  const used = register(first, { nonce });
  r = await used.rsp;
  assert.equal(r.status, 200, r.headers['www-authenticate']?.[0]);
  const w0 = workerOf(r);
  // new connections, each with a fresh proof carrying that nonce, until one lands on the other
  // worker: every one is accepted at once (the kernel spreads connections by their ports)
  let other = null;
  for (let i = 0; i < 40 && !other; i++) {
    const ws = await open();
    r = await register(ws, { nonce }).rsp;
    assert.equal(r.status, 200, `connection ${i}: ${r.headers['www-authenticate']?.[0]}`);
    if (workerOf(r) !== w0) other = ws;
  }
  assert.ok(other, 'a connection landed on the other worker');
  // the proof already used at the first worker, replayed at the other: refused for its jti
  r = await register(other, { dpop: used.dpop }).rsp;
  assert.equal(r.status, 401);
  assert.match(r.headers['www-authenticate'][0], /already used \(jti\)/);
});

/** Waits (bounded) for the n-th match of re in the gateway log; returns it or null. */
async function nthLog(re, n, ms) {
  for (let i = 0; i <= ms / 20; i++) {
    const all = [...stack.gateway.log.matchAll(re)];
    if (all.length >= n) return all[n - 1];
    await sleep(20);
  }
  return null;
}

/** A call from bob to user, answered and acknowledged; bob's side of the dialog. */
async function call(bob, user) {
  const tx = bob.request('INVITE', user.aor, { body: SDP('bob') });
  const inv = await user.waitRequest('INVITE');
  user.respond(inv, 200, 'OK', { body: SDP(user.user) });
  const ok = await bob.waitStatus(200, 'INVITE');
  const bd = bob.dialogFrom(tx, ok);
  bob.inDialog(bd, 'ACK');
  await user.waitRequest('ACK');
  return bd;
}

let bob;
test('every reconnect to the URL the worker named keeps the call, whichever worker holds it', async () => {
  bob = await Ua.register(stack, 'bob');
  assert.equal(bob.recoveryUrl, null, 'no recovery URL for a bearer registration (it is never held)');
  const held = /imsgw-gateway\/(\d)\b[^\n]*recover: flow \d+ closed/g;
  const recovered = /recover: flow \d+ recovered by connection/g;
  const holders = [0, 0];
  for (let i = 0; i < TRIALS; i++) {
    const user = await Ua.register(stack, `r${i}`, { dpop: dpopKey() });
    const w = workerOf({ headers: { path: user.path } });
    // each worker names its own port: recovery-port + its number, on the listen address
    assert.equal(user.recoveryUrl, `ws://127.0.0.1:${recoveryPort + w}/sip`, `trial ${i}`);
    const bd = await call(bob, user);
    const recovered0 = [...stack.gateway.log.matchAll(recovered)].length;
    const held0 = [...stack.gateway.log.matchAll(held)].length; // earlier trials' closes are held too
    user.ws.close();
    const h = await nthLog(held, held0 + 1, 3000);
    assert.ok(h, 'the closed flow is held');
    assert.equal(Number(h[1]), w, 'held by the worker that had the flow');
    holders[w]++;
    const rsp = await user.connect(stack, { url: user.recoveryUrl });
    assert.equal(workerOf(rsp), w, 'the recovery URL reached the worker holding the call');
    assert.ok(await nthLog(recovered, recovered0 + 1, 3000), `trial ${i}: recovered`);
    // the core's in-dialog request finds the client on its new WebSocket
    bob.inDialog(bd, 'BYE');
    const bye = await user.waitRequest('BYE');
    user.respond(bye, 200, 'OK');
    await bob.waitStatus(200, 'BYE');
    user.close();
  }
  console.log(`recoveries: ${TRIALS} of ${TRIALS}; calls held by worker 0: ${holders[0]}, worker 1: ${holders[1]}`);
  assert.ok(holders[0] > 0 && holders[1] > 0, `both workers held calls: ${holders}`);
});

test('a reconnect to the shared port still recovers only when it lands on the holding worker', async () => {
  // what a client that ignores the header (or cannot reach the recovery port) gets: a coin toss
  // per reconnect; the call on the other worker ends after the grace, nothing unsafe happens
  const held = /imsgw-gateway\/(\d)\b[^\n]*recover: flow \d+ closed/g;
  const recovered = /recover: flow \d+ recovered by connection/g;
  const seen = { same: 0, other: 0 };
  for (let i = 0; i < TRIALS && !(seen.same && seen.other); i++) {
    const user = await Ua.register(stack, `q${i}`, { dpop: dpopKey() });
    const bd = await call(bob, user);
    const recovered0 = [...stack.gateway.log.matchAll(recovered)].length;
    const held0 = [...stack.gateway.log.matchAll(held)].length;
    user.ws.close();
    const h = await nthLog(held, held0 + 1, 3000);
    assert.ok(h, 'the closed flow is held');
    if (workerOf(await user.connect(stack)) === Number(h[1])) {
      seen.same++;
      assert.ok(await nthLog(recovered, recovered0 + 1, 3000), 'same worker: recovered');
      bob.inDialog(bd, 'BYE');
      const bye = await user.waitRequest('BYE');
      user.respond(bye, 200, 'OK');
      await bob.waitStatus(200, 'BYE');
    } else {
      seen.other++;
      const bye = await bob.waitRequest('BYE', GRACE * 1000 + 3000);
      assert.match(bye.headers.reason?.[0] || '', /WebSocket closed/);
      bob.respond(bye, 200, 'OK');
      assert.equal([...stack.gateway.log.matchAll(recovered)].length, recovered0, 'other worker: not recovered');
    }
    user.close();
  }
  assert.ok(seen.same > 0 && seen.other > 0, `both cases seen: ${JSON.stringify(seen)}`);
});

test('the recovery port is guarded like the shared one: a foreign Origin or no sip subprotocol is refused', async () => {
  const url = `ws://127.0.0.1:${recoveryPort}/sip`;
  const refused = (protocols, opts) => new Promise((resolve) => {
    const ws = new WebSocket(url, protocols, opts);
    ws.on('open', () => { ws.close(); resolve(false); });
    ws.on('error', () => resolve(true));
  });
  assert.ok(await refused('sip', { origin: 'https://evil.example' }), 'foreign Origin');
  assert.ok(await refused('chat'), 'no sip subprotocol');
  const ok = await SipWs.open(url);
  ok.close();
});
