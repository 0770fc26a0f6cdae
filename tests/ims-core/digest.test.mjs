// Issue 11, Digest on behalf of the user (ims-auth digest) against a stock Kamailio S-CSCF that
// challenges every REGISTER with MD5 Digest: the gateway answers with a response the WAF
// computes from the user's IMS credential; the WIC never sees the challenge; wrong credentials
// give the client a clear 403 after one answer (the core is not hammered). The S-CSCF also
// challenges every originating MESSAGE (407), which the gateway answers the same way. Also an IMS-native
// client (SIPp, Digest, registered directly at the core) calling a WebSocket user.
// Run through tests/ims-core/in-netns.sh (see tests/CMakeLists.txt).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, sleep, wafCli, SipWs, registerMsg, token } from '../integration/harness.mjs';
import { Ua, SDP } from '../integration/sipua.mjs';
import { startCore, coreUnavailable, ICSCF } from './core.mjs';

const skip = coreUnavailable() || false;
const IMS_PW = { alice: 'alice-ims-7f3a', bob: 'bob-ims-91c2', carol: 'carol-ims-right' };
let core, stack;
before(async () => {
  if (skip) return;
  core = await startCore({ mode: 'digest', subscribers: Object.entries(IMS_PW).map(([u, password]) =>
    ({ impi: `${u}@ims.test`, impu: `sip:${u}@ims.test`, password })) });
  stack = await startStack({ users: ['alice', 'bob', 'carol'], gatewayArgs: ['--next-hop', ICSCF, '--ims-auth', 'digest'] });
  for (const u of ['alice', 'bob'])
    wafCli(stack, ['user', 'ims-credentials', u, '--password-stdin'], `${IMS_PW[u]}\n`);
  wafCli(stack, ['user', 'ims-credentials', 'carol', '--password-stdin'], 'not-carols-password\n');
});
after(async () => {
  if (skip) return;
  const r = stack && await stack.stop();
  const c = core && await core.stop();
  if (r) assert.equal(r['imsgw-gateway'].code, 0);
  if (c) for (const [role, e] of Object.entries(c)) assert.ok(e.running, `${role} died during the test: ${JSON.stringify(e)}`);
});
const coreLog = () => core.log().slice(-5000);
const withLogs = (p) => p.catch((e) => { throw new Error(`${e.message}\n${coreLog()}\n--- gateway\n${stack.gateway.log.slice(-3000)}`); });
let alice, bob;

test('digest: registration answers the core\'s MD5 challenge; the client sees only the 200', { skip }, async () => {
  alice = await withLogs(Ua.register(stack, 'alice'));
  bob = await withLogs(Ua.register(stack, 'bob'));
  assert.deepEqual(alice.serviceRoute, ['<sip:orig@127.0.0.3:6060;lr>']);
  assert.match(core.procs[1].log, /REGISTER \(sip:alice@ims\.test/);
  for (const [name, log] of [['gateway', stack.gateway.log], ['WAF', stack.waf.log]])
    assert.doesNotMatch(log, /nonce="?[0-9a-f]{8}|response="?[0-9a-f]{32}|ha1|alice-ims-7f3a/i, `${name} log holds no secret`);
});

test('digest: MESSAGE and a call through the core', { skip }, async () => {
  alice.request('MESSAGE', bob.aor, { body: 'hi', contentType: 'text/plain' });
  const m = await withLogs(bob.waitRequest('MESSAGE'));
  // The S-CSCF challenged it (407, ims_proxy_challenge): the gateway answered once, CSeq + 1.
  assert.equal(parseInt(m.headers.cseq[0], 10), 2, 'answered in the same Call-ID with CSeq + 1');
  assert.equal(m.headers['proxy-authorization'], undefined);
  bob.respond(m, 200, 'OK');
  assert.equal((await withLogs(alice.waitStatus(200, 'MESSAGE'))).headers.cseq[0], '1 MESSAGE');
  assert.ok(!alice.responses.some((r) => r.status === 407), 'the client never sees the challenge');
  const tx = alice.request('INVITE', bob.aor, { body: SDP('alice') });
  const inv = await withLogs(bob.waitRequest('INVITE'));
  const bd = bob.respond(inv, 200, 'OK', { body: SDP('bob') });
  const ok = await withLogs(alice.waitStatus(200, 'INVITE'));
  alice.inDialog(alice.dialogFrom(tx, ok), 'ACK');
  await withLogs(bob.waitRequest('ACK'));
  bob.inDialog(bd, 'BYE');
  const bye = await withLogs(alice.waitRequest('BYE'));
  alice.respond(bye, 200, 'OK');
  await withLogs(bob.waitStatus(200, 'BYE'));
});

test('digest: wrong IMS credentials → 403 for the client, two REGISTERs at the core and no more', { skip }, async () => {
  const c = await SipWs.open(stack.wsUrl);
  const rsp = await withLogs(c.request(registerMsg({ user: 'carol', callId: 'carol-wrong', auth: `Bearer ${token(stack, 'carol')}` }), 8000));
  assert.equal(rsp.status, 403, rsp.text);
  assert.match(rsp.start, /Authentication Failed|IMS credentials/, 'a clear reason');
  assert.equal(rsp.headers['www-authenticate'], undefined, 'no Digest challenge reaches the WIC');
  await sleep(1500);
  const seen = (core.procs[1].log.match(/REGISTER \(sip:carol@ims\.test/g) || []).length;
  assert.equal(seen, 2, 'the challenged REGISTER and one answer, no retry loop');
  c.close();
});
