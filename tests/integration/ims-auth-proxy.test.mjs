// Issue 11: Digest on behalf of the user for requests other than REGISTER (ims-auth digest).
// The stub's home proxy challenges every originating MESSAGE and INVITE with 407 (setting
// proxy-challenge); the gateway answers once with a Proxy-Authorization the WAF computes, in the
// same Call-ID with CSeq + 1, and the client never sees the challenge: its own CSeq comes back,
// its ACK/BYE in the dialog are shifted to the core's numbering, CANCEL follows the re-sent
// INVITE. Wrong IMS credentials: a second 407 → 403 to the client, no third attempt. The
// dereg-grace de-REGISTER of a closed flow, and the re-REGISTER after a "shortened" reg event,
// answer the core's challenge the same way.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, sleep, wafCli, stubShorten } from './harness.mjs';
import { Ua, SDP } from './sipua.mjs';

const IMS_PW = { alice: 'alice-ims-5d1e', bob: 'bob-ims-a07c', carol: 'carol-ims-33b9', dave: 'dave-ims-0e42' };
let stack, alice, bob;
before(async () => {
  stack = await startStack({ users: Object.keys(IMS_PW), imsPasswords: IMS_PW,
    stubArgs: ['--auth-mode', 'digest', '--proxy-challenge', 'MESSAGE,INVITE'],
    gatewayArgs: ['--ims-auth', 'digest', '--dereg-grace', '1'] });
  for (const u of Object.keys(IMS_PW)) wafCli(stack, ['user', 'ims-credentials', u, '--password-stdin'], `${IMS_PW[u]}\n`);
  alice = await Ua.register(stack, 'alice');
  bob = await Ua.register(stack, 'bob');
});
after(async () => {
  alice?.close();
  bob?.close();
  const results = await stack.stop();
  for (const [name, r] of Object.entries(results)) assert.deepEqual(r, { code: 0, sig: null }, name);
});

/** The stub's proxy log lines for method from user, as "status reason". */
const stubLines = (method, user) => [...stack.stub.log.matchAll(
  new RegExp(`proxy method=${method} from=sip:${user}@ims\\.test .*?status=(\\d+)[^\\n]*?(?: reason=(\\S+))?$`, 'gm'))]
  .map((m) => `${m[1]}${m[2] ? ` ${m[2]}` : ''}`);
const metric = async (name) => {
  const m = new RegExp(`^${name} ([0-9.]+)$`, 'm').exec(await (await fetch(`${stack.httpUrl}/metrics`)).text());
  return m ? Number(m[1]) : NaN;
};
const until = async (what, check, ms = 3000) => {
  for (const end = Date.now() + ms; !check();) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
};
const cseqOf = (m) => parseInt(m.headers.cseq[0], 10);
const noChallengeSeen = (ua) => assert.ok(!ua.responses.some((r) => r.status === 407 || r.status === 401), 'the client never sees a challenge');

test('MESSAGE: the core\'s 407 is answered via the WAF; the client gets the 200 with its own CSeq', async () => {
  alice.request('MESSAGE', bob.aor, { body: 'hello', contentType: 'text/plain' });
  const m = await bob.waitRequest('MESSAGE');
  assert.equal(m.body, 'hello');
  assert.equal(cseqOf(m), 2, 'the answered MESSAGE went up with CSeq + 1');
  assert.equal(m.headers['proxy-authorization'], undefined, 'the core consumed its credentials');
  bob.respond(m, 200, 'OK');
  const ok = await alice.waitStatus(200, 'MESSAGE');
  assert.equal(ok.headers.cseq[0], '1 MESSAGE', 'the client\'s numbering, not the core\'s');
  noChallengeSeen(alice);
  await until('the stub\'s log line', () => stubLines('MESSAGE', 'alice').length === 2);
  assert.deepEqual(stubLines('MESSAGE', 'alice'), ['407 proxy-auth-needed', '200']);
  for (const [name, log] of [['gateway', stack.gateway.log], ['WAF', stack.waf.log]])
    assert.doesNotMatch(log, /nonce="?[0-9a-f]{8}|response="?[0-9a-f]{32}|alice-ims-5d1e/i, `${name} log holds no secret`);
});

test('INVITE: answered once; ACK and BYE of the dialog follow the core\'s CSeq numbering', async () => {
  const tx = alice.request('INVITE', bob.aor, { body: SDP('alice') });
  const inv = await bob.waitRequest('INVITE');
  assert.equal(cseqOf(inv), 2);
  bob.respond(inv, 180, 'Ringing');
  assert.equal((await alice.waitStatus(180, 'INVITE')).headers.cseq[0], '1 INVITE');
  const bd = bob.respond(inv, 200, 'OK', { body: SDP('bob') });
  const ok = await alice.waitStatus(200, 'INVITE');
  assert.equal(ok.headers.cseq[0], '1 INVITE');
  const d = alice.dialogFrom(tx, ok);
  alice.inDialog(d, 'ACK');
  const ack = await bob.waitRequest('ACK');
  assert.equal(cseqOf(ack), cseqOf(inv), 'the ACK names the INVITE the callee answered');
  const sent = alice.inDialog(d, 'BYE');
  const bye = await bob.waitRequest('BYE');
  assert.equal(sent.cseq, 2);
  assert.equal(cseqOf(bye), 3, 'above the INVITE\'s CSeq at the callee (RFC 3261 §12.2.2)');
  bob.respond(bye, 200, 'OK');
  assert.equal((await alice.waitStatus(200, 'BYE')).headers.cseq[0], '2 BYE');
  noChallengeSeen(alice);
  await until('the stub\'s log line', () => stubLines('INVITE', 'alice').length === 2);
  assert.deepEqual(stubLines('INVITE', 'alice'), ['407 proxy-auth-needed', '200']);
  for (let i = 0; i < 40 && (await metric('imsgw_proxy_transactions')) > 0; i++) await sleep(25);
  assert.equal(await metric('imsgw_proxy_transactions'), 0, 'no transaction outlives the call');
});

test('CANCEL after the answered INVITE: the CANCEL upstream matches the re-sent INVITE; 487 to the caller', async () => {
  const tx = alice.request('INVITE', bob.aor, { body: SDP('alice') });
  const inv = await bob.waitRequest('INVITE');
  bob.respond(inv, 180, 'Ringing');
  await alice.waitStatus(180, 'INVITE');
  alice.send([`CANCEL ${bob.aor} SIP/2.0`, `Via: SIP/2.0/WSS ${alice.host};branch=${tx.branch}`, 'Max-Forwards: 70',
    `From: <${alice.aor}>;tag=${tx.fromTag}`, `To: <${bob.aor}>`, `Call-ID: ${tx.callId}`, 'CSeq: 1 CANCEL',
    'Content-Length: 0', '', ''].join('\r\n'));
  await alice.waitStatus(200, 'CANCEL');
  const cancel = await bob.waitRequest('CANCEL');
  assert.equal(cseqOf(cancel), cseqOf(inv), 'CANCEL carries the re-sent INVITE\'s CSeq (RFC 3261 §9.1)');
  bob.respond(cancel, 200, 'OK');
  bob.respond(inv, 487, 'Request Terminated');
  assert.equal((await alice.waitStatus(487, 'INVITE')).headers.cseq[0], '1 INVITE');
  noChallengeSeen(alice);
  for (let i = 0; i < 40 && (await metric('imsgw_proxy_transactions')) > 0; i++) await sleep(25);
  assert.equal(await metric('imsgw_proxy_transactions'), 0);
});

test('wrong IMS credentials: a second 407 gives the client 403, and the core sees exactly two attempts', async () => {
  const carol = await Ua.register(stack, 'carol'); // registered with the right password …
  wafCli(stack, ['user', 'ims-credentials', 'carol', '--password-stdin'], 'not-carols-password\n'); // … then changed
  carol.request('MESSAGE', bob.aor, { body: 'x', contentType: 'text/plain' });
  const no = await carol.waitStatus(403, 'MESSAGE');
  assert.match(no.start, /IMS credentials not accepted/);
  carol.request('INVITE', bob.aor, { body: SDP('carol') });
  await carol.waitStatus(403, 'INVITE');
  await sleep(300); // a retry loop would show here
  assert.deepEqual(stubLines('MESSAGE', 'carol'), ['407 proxy-auth-needed', '407 proxy-auth-bad-digest']);
  assert.deepEqual(stubLines('INVITE', 'carol'), ['407 proxy-auth-needed', '407 proxy-auth-bad-digest']);
  assert.equal(bob.requests.length, 0, 'nothing reached the callee');
  noChallengeSeen(carol);
  for (let i = 0; i < 200 && (await metric('imsgw_proxy_transactions')) > 0; i++) await sleep(25);
  assert.equal(await metric('imsgw_proxy_transactions'), 0, 'the failed INVITE\'s ACK was absorbed');
  carol.close();
});

test('no IMS credentials at the WAF for the user: 403 after the first challenge', async () => {
  wafCli(stack, ['user', 'ims-credentials', 'bob', '--remove']);
  bob.request('MESSAGE', alice.aor, { body: 'y', contentType: 'text/plain' });
  const no = await bob.waitStatus(403, 'MESSAGE');
  assert.match(no.start, /no usable IMS credentials/);
  assert.deepEqual(stubLines('MESSAGE', 'bob'), ['407 proxy-auth-needed']);
  assert.match(stack.gateway.log, /cannot answer the core's challenge of a MESSAGE .*holds no IMS credentials/);
});

test('dereg-grace: the de-REGISTER of a closed flow answers the core\'s challenge; the binding goes', async () => {
  const regLines = () => [...stack.stub.log.matchAll(/register aor=sip:dave@ims\.test from=\S+ status=(\d+)(?: reason=(\S+))?/g)]
    .map((m) => `${m[1]}${m[2] ? ` ${m[2]}` : ''}`);
  const dave = await Ua.register(stack, 'dave');
  // the stub's log line of the 200 may reach us after the client's 200 (another process's stderr)
  await until('the stub logs the registration', () => regLines().length >= 2, 3000).catch(() => {});
  assert.equal(regLines().length, 2, `the registration: challenge and 200 (${regLines()})`);
  dave.close();
  await until('the de-REGISTER and its answer', () => /the IMS core answered 200 to the REGISTER for sip:dave@ims\.test\S* sent on the user's behalf/.test(stack.gateway.log), 5000)
    .catch((e) => { throw new Error(`${e.message}\n--- gateway\n${stack.gateway.log.slice(-2500)}\n--- stub\n${stack.stub.log.slice(-1500)}`); });
  // The first de-REGISTER carries the registration's spent nonce: challenged, answered once, 200.
  assert.deepEqual(regLines().slice(2), ['401 digest-replay', '200']);
  assert.doesNotMatch(stack.gateway.log, /dave-ims-0e42|response="?[0-9a-f]{32}/);
  alice.request('MESSAGE', 'sip:dave@ims.test', { body: 'still there?', contentType: 'text/plain' });
  const gone = await alice.waitResponse((r) => r.status >= 400 && / MESSAGE$/.test(r.headers.cseq[0]));
  assert.ok([404, 480].includes(gone.status), `the binding was removed at the core (${gone.status})`);
});

test('shortened: the gateway\'s re-REGISTER answers the core\'s challenge too', async () => {
  const lines = () => [...stack.stub.log.matchAll(/register aor=sip:alice@ims\.test from=\S+ status=(\d+)(?: reason=(\S+))?/g)]
    .map((m) => `${m[1]}${m[2] ? ` ${m[2]}` : ''}`);
  await until('alice\'s subscription', () => /regevent: subscribe aor=sip:alice@ims\.test/.test(stack.stub.log));
  const before = lines().length;
  assert.match(await stubShorten(stack.stubPort, 'sip:alice@ims.test', 2), /X-Shortened: 1/);
  await until('the re-REGISTER', () => /re-registered sip:alice@ims\.test on its behalf/.test(stack.gateway.log), 2000);
  // It carries the registration's spent nonce: challenged, answered once via the WAF, accepted.
  assert.deepEqual(lines().slice(before), ['401 digest-replay', '200']);
  await sleep(800); // past the shortened expiry (2 s after the hook)
  alice.request('MESSAGE', bob.aor, { body: 'after', contentType: 'text/plain' });
  bob.respond(await bob.waitRequest('MESSAGE'), 200, 'OK');
  await alice.waitStatus(200, 'MESSAGE');
});
