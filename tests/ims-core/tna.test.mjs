// Issue 11, against a real core (Kamailio 5.6 I-CSCF + S-CSCF + test HSS) whose S-CSCF accepts the
// gateway's trusted-node REGISTER: two WebSocket users register, exchange a MESSAGE, call each
// other both ways and de-register; the core de-registers one by RTR → reg-event NOTIFY.
// Run through tests/ims-core/in-netns.sh (see tests/CMakeLists.txt).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startStack, sleep, freePort } from '../integration/harness.mjs';
import { Ua, SDP } from '../integration/sipua.mjs';
import { startCore, coreUnavailable, ICSCF } from './core.mjs';

const skip = coreUnavailable() || false;
let core, stack;
before(async () => {
  if (skip) return;
  core = await startCore({ mode: 'tna', subscribers: [...['alice', 'bob'].map((u) => ({ impi: `${u}@ims.test`, impu: `sip:${u}@ims.test` })),
    { impi: 'sippy@ims.test', impu: 'sip:sippy@ims.test', password: 'native-sippy-pw' }] });
  // next-hop is the I-CSCF; ims-peers is left to its default (the S-CSCF is learnt at registration)
  stack = await startStack({ gatewayArgs: ['--next-hop', ICSCF] });
});
after(async () => {
  if (skip) return;
  const r = stack && await stack.stop();
  const c = core && await core.stop();
  if (process.env.IMSGW_CORE_LOG) console.log(core.log());
  if (r) assert.equal(r['imsgw-gateway'].code, 0);
  if (c) for (const [role, e] of Object.entries(c)) assert.ok(e.running, `${role} died during the test: ${JSON.stringify(e)}`);
});

const coreLog = () => core.log().slice(-6000);
const withLogs = (p) => p.catch((e) => { throw new Error(`${e.message}\nalice got: ${alice?.responses.map((r) => r.start).join("; ")}\n${coreLog()}\n--- gateway\n${stack.gateway.log.slice(-3000)}`); });
let alice, bob;

test('TNA: registration through I-CSCF and S-CSCF gives the core Service-Route and P-Associated-URI', { skip }, async () => {
  alice = await withLogs(Ua.register(stack, 'alice'));
  bob = await withLogs(Ua.register(stack, 'bob'));
  assert.deepEqual(alice.serviceRoute, [`<sip:orig@127.0.0.3:6060;lr>`]);
});

test('MESSAGE both ways through the S-CSCF, with originating treatment', { skip }, async () => {
  alice.request('MESSAGE', 'sip:bob@ims.test', { body: 'hello bob', contentType: 'text/plain' });
  const m1 = await withLogs(bob.waitRequest('MESSAGE'));
  assert.equal(m1.body, 'hello bob');
  assert.deepEqual(m1.headers['p-asserted-identity'], ['<sip:alice@ims.test>']);
  bob.respond(m1, 200, 'OK');
  await withLogs(alice.waitStatus(200, 'MESSAGE'));
  bob.request('MESSAGE', 'sip:alice@ims.test', { body: 'hi alice', contentType: 'text/plain' });
  const m2 = await withLogs(alice.waitRequest('MESSAGE'));
  assert.equal(m2.body, 'hi alice');
  alice.respond(m2, 200, 'OK');
  await withLogs(bob.waitStatus(200, 'MESSAGE'));
  // The S-CSCF ran originating processing for the sender (it loops MO requests for its own domain
  // back to itself, so each request crossed it twice: once "Orig", once terminating).
  assert.match(core.procs[1].log, /Orig/);
});

async function call(caller, callee) {
  const tx = caller.request('INVITE', callee.aor, { body: SDP(caller.user) });
  const inv = await withLogs(callee.waitRequest('INVITE', 8000));
  const rr = inv.headers['record-route'].join(',');
  assert.match(rr, /sip:mo@/, 'the S-CSCF Record-Routed its originating leg');
  assert.match(rr, /sip:mt@/, 'and its terminating leg');
  assert.deepEqual(inv.headers['p-asserted-identity'], [`<${caller.aor}>`]);
  callee.respond(inv, 180, 'Ringing');
  await withLogs(caller.waitStatus(180, 'INVITE'));
  const calleeDialog = callee.respond(inv, 200, 'OK', { body: SDP(callee.user) });
  const ok = await withLogs(caller.waitStatus(200, 'INVITE'));
  assert.equal(ok.body, SDP(callee.user));
  const d = caller.dialogFrom(tx, ok);
  caller.inDialog(d, 'ACK');
  await withLogs(callee.waitRequest('ACK'));
  return { callerDialog: d, calleeDialog };
}

test('alice calls bob (bob hangs up), bob calls alice (alice hangs up)', { skip }, async () => {
  const c1 = await call(alice, bob);
  bob.inDialog(c1.calleeDialog, 'BYE');
  const bye1 = await withLogs(alice.waitRequest('BYE'));
  alice.respond(bye1, 200, 'OK');
  await withLogs(bob.waitStatus(200, 'BYE'));
  const c2 = await call(bob, alice);
  bob.inDialog(c2.callerDialog, 'BYE');
  const bye2 = await withLogs(alice.waitRequest('BYE'));
  alice.respond(bye2, 200, 'OK');
  await withLogs(bob.waitStatus(200, 'BYE'));
});

/** SIPp as an IMS-native UE: MD5 Digest registration directly at the core (I-CSCF), over UDP. */
async function sipp(scenario, extra, port) {
  port = port || await freePort();
  const dir = fs.mkdtempSync(path.join(stack.dir, 'sipp-'));
  const server = extra.includes('--uas');
  extra = extra.filter((a) => a !== '--uas');
  const p = spawn('sipp', [...(server ? [] : ['127.0.0.2:4060']), '-sf', path.join(import.meta.dirname, '..', 'sipp', scenario),
    '-t', 'u1', '-i', '127.0.0.1', '-p', String(port), '-m', '1', '-timeout', '15s', '-timeout_error', '-nostdin',
    '-au', 'sippy@ims.test', '-ap', 'native-sippy-pw', '-trace_err', '-trace_logs', ...extra], { cwd: dir, stdio: 'ignore' });
  const done = new Promise((resolve) => p.on('exit', (code) => resolve(code)));
  const read = (suffix) => {
    const f = fs.readdirSync(dir).find((n) => n.endsWith(suffix));
    return f ? fs.readFileSync(path.join(dir, f), 'utf8') : '';
  };
  return { done, read };
}

test('an IMS-native client (SIPp, Digest at the core) calls a WebSocket user through the core', { skip }, async () => {
  const s = await sipp('native_calls_ws.xml', ['-s', 'alice']);
  const inv = await withLogs(alice.waitRequest('INVITE', 10000));
  assert.match(inv.body, /o=sippy/);
  alice.respond(inv, 180, 'Ringing');
  const d = alice.respond(inv, 200, 'OK', { body: SDP('ws') });
  await withLogs(alice.waitRequest('ACK', 8000));
  const bye = await withLogs(alice.waitRequest('BYE', 8000));
  alice.respond(bye, 200, 'OK', { toTag: d.localTag });
  assert.equal(await s.done, 0, `SIPp failed:\n${s.read('_errors.log').slice(-2000)}\n${coreLog()}`);
});

test('a WebSocket user calls the IMS-native client through the core', { skip }, async () => {
  const port = await freePort();
  const reg = await sipp('core_native_register.xml', ['-s', 'sippy'], port);
  assert.equal(await reg.done, 0, `SIPp registration failed:\n${reg.read('_errors.log').slice(-2000)}\n${coreLog()}`);
  const s = await sipp('native_answers_ws.xml', ['--uas'], port);
  await sleep(300);
  const tx = alice.request('INVITE', 'sip:sippy@ims.test', { body: SDP('ws') });
  const ok = await withLogs(alice.waitStatus(200, 'INVITE', 10000));
  assert.match(ok.body, /o=sippy/);
  const d = alice.dialogFrom(tx, ok);
  alice.inDialog(d, 'ACK');
  await sleep(200);
  alice.inDialog(d, 'BYE');
  await withLogs(alice.waitStatus(200, 'BYE', 8000));
  assert.equal(await s.done, 0, `SIPp failed:\n${s.read('_errors.log').slice(-2000)}`);
  assert.match(s.read('_logs.log'), /PAI sip:alice@ims.test/, 'the core asserted the caller');
});

test('reg-event: the HSS ends alice\'s registration (RTR), the S-CSCF NOTIFYs, the edge follows within a second', { skip }, async () => {
  const until = Date.now() + 3000;
  while (!/subscribed to the registration state of sip:alice@ims\.test/.test(stack.gateway.log) && Date.now() < until) await sleep(20);
  assert.match(stack.gateway.log, /subscribed to the registration state of sip:alice@ims\.test/, coreLog());
  const closed = new Promise((resolve) => alice.ws.ws.on('close', (code) => resolve(code)));
  core.hss.rtr('scscf.ims.test', 'alice@ims.test');
  const code = await Promise.race([closed, sleep(1000).then(() => 'still open after 1 s')]);
  assert.equal(code, 4401, `${coreLog()}\n${stack.gateway.log.slice(-2000)}`);
  assert.match(stack.gateway.log, /the core ended the registration of sip:alice@ims\.test/);
});

test('de-registration through the core', { skip }, async () => {
  const { registerMsg } = await import('../integration/harness.mjs');
  bob.ws.send(registerMsg({ user: 'bob', callId: `reg-${bob.host}`, cseq: 2, expires: 0 })
    .replace(/Contact: [^\r]*/, `Contact: ${bob.contact}`));
  const rsp = await withLogs(bob.waitResponse((r) => / REGISTER$/.test(r.headers.cseq[0])));
  assert.equal(rsp.status, 200);
  assert.ok((rsp.headers.contact || []).every((c) => !c.includes(bob.host) || /expires=0/.test(c)), `the core keeps no binding: ${rsp.headers.contact}`);
  bob.request('MESSAGE', 'sip:alice@ims.test', { body: 'x', contentType: 'text/plain' });
  assert.equal((await bob.waitResponse((r) => / MESSAGE$/.test(r.headers.cseq[0]))).status, 403, 'not registered at the edge either');
});
