// Issue 9, proxy slice: in-dialog requests only inside dialogs the gateway holds and only along
// its stored route set (no relay from the trusted IMS address), the same scopes in a dialog as
// outside, the callee's asserted identity on responses, IMS-side requests only from the core,
// Max-Forwards 70 when absent, 420 with Unsupported, one SIP message per WebSocket message.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { startStack, sleep, SipWs, parseSip } from './harness.mjs';
import { Ua, SDP } from './sipua.mjs';

let stack, alice, bob, dave, trap, trapPort;
const trapConnections = [];

before(async () => {
  // A foreign host a relay attack would aim at: any connection to it is a failure.
  trap = net.createServer((s) => { trapConnections.push(s.remoteAddress); s.destroy(); });
  await new Promise((resolve) => trap.listen(0, '127.0.0.1', resolve));
  trapPort = trap.address().port;
  stack = await startStack({ users: ['alice', 'bob', 'carol', 'dave'] });
  alice = await Ua.register(stack, 'alice');
  bob = await Ua.register(stack, 'bob');
  dave = await Ua.register(stack, 'dave', { scope: 'ims:register' }); // may register, nothing else
});
after(async () => {
  for (const ua of [alice, bob, dave]) ua.close();
  trap.close();
  const results = await stack.stop();
  for (const [name, r] of Object.entries(results)) assert.deepEqual(r, { code: 0, sig: null }, name);
});

const metric = async (name) => {
  const text = await (await fetch(`${stack.httpUrl}/metrics`)).text();
  const m = new RegExp(`^${name} ([0-9.]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
};
const settle = async (name, want) => {
  for (let i = 0; i < 40 && (await metric(name)) !== want; i++) await sleep(25);
  return metric(name);
};
const answerOf = (ua, method) => ua.waitResponse((r) => r.headers.cseq[0].endsWith(method));
const within = (p, ms = 5000) => Promise.race([p, sleep(ms).then(() => { throw new Error(`nothing within ${ms} ms`); })]);
const foreignRoute = () => `<sip:127.0.0.1:${trapPort};transport=tcp;lr>`;

/** caller calls callee; both get their dialog. */
async function establish(caller, callee) {
  const tx = caller.request('INVITE', callee.aor, { body: SDP(caller.user) });
  const inv = await callee.waitRequest('INVITE');
  const calleeDialog = callee.respond(inv, 200, 'OK', { body: SDP(callee.user) });
  const ok = await caller.waitStatus(200, 'INVITE');
  const callerDialog = caller.dialogFrom(tx, ok);
  caller.inDialog(callerDialog, 'ACK');
  await callee.waitRequest('ACK');
  return { callerDialog, calleeDialog };
}

async function hangUp(caller, callerDialog, callee, calleeDialog) {
  caller.inDialog(callerDialog, 'BYE');
  const bye = await callee.waitRequest('BYE');
  callee.respond(bye, 200, 'OK', { toTag: calleeDialog.localTag });
  await caller.waitStatus(200, 'BYE');
}

test('relay attack: a To-tag and Route = our Record-Route entry + a foreign host → 481, nothing reaches that host', async () => {
  // dave (ims:register only) learns his own Record-Route entry from a call alice makes to him
  const tx = alice.request('INVITE', dave.aor, { body: SDP('alice') });
  const inv = await dave.waitRequest('INVITE');
  const daveDialog = dave.respond(inv, 200, 'OK', { body: SDP('dave') });
  const ok = await alice.waitStatus(200, 'INVITE');
  const aliceDialog = alice.dialogFrom(tx, ok);
  alice.inDialog(aliceDialog, 'ACK');
  await dave.waitRequest('ACK');
  const ours = daveDialog.routes[0];
  assert.match(ours, /transport=ws/, 'dave\'s own Record-Route entry comes first');
  // the attack of the review: a MESSAGE with forged From in no dialog at all
  const attack = { ...daveDialog, remoteTag: 'forged', callId: 'relay-attack', local: 'sip:boss@ims.test',
    target: `sip:victim@127.0.0.1:${trapPort};transport=tcp`, routes: [ours, foreignRoute()] };
  dave.inDialog(attack, 'MESSAGE', { extra: ['Content-Type: text/plain'] });
  assert.equal((await answerOf(dave, 'MESSAGE')).status, 481);
  // inside his real dialog: MESSAGE needs ims:message, INFO needs ims:call → 403
  dave.inDialog({ ...daveDialog, routes: [ours, foreignRoute()] }, 'MESSAGE');
  assert.equal((await answerOf(dave, 'MESSAGE')).status, 403);
  dave.inDialog(daveDialog, 'INFO');
  assert.equal((await answerOf(dave, 'INFO')).status, 403);
  // alice may message in her dialog, but it goes along the stored route set, to dave
  alice.inDialog({ ...aliceDialog, routes: [aliceDialog.routes[0], foreignRoute()] }, 'MESSAGE');
  const m = await dave.waitRequest('MESSAGE');
  dave.respond(m, 200, 'OK', { toTag: daveDialog.localTag });
  assert.equal((await answerOf(alice, 'MESSAGE')).status, 200);
  // ending the call needs no scope: dave hangs up
  await hangUp(dave, daveDialog, alice, aliceDialog);
  assert.equal(await settle('imsgw_dialogs', 0), 0);
  await sleep(200);
  assert.deepEqual(trapConnections, [], 'no connection reached the foreign host');
});

test('in-dialog scope: a token without ims:message cannot MESSAGE inside its call; BYE of an unknown dialog → 481', async () => {
  const carol = await Ua.register(stack, 'carol', { scope: 'ims:register ims:call' });
  const { callerDialog, calleeDialog } = await establish(carol, bob);
  carol.inDialog(callerDialog, 'MESSAGE', { body: 'x', extra: [] });
  assert.equal((await answerOf(carol, 'MESSAGE')).status, 403);
  carol.inDialog({ ...callerDialog, remoteTag: 'nope' }, 'BYE');
  assert.equal((await answerOf(carol, 'BYE')).status, 481);
  await hangUp(carol, callerDialog, bob, calleeDialog);
  carol.close();
  assert.equal(await settle('imsgw_dialogs', 0), 0);
  assert.deepEqual(trapConnections, []);
});

test('early dialogs: UPDATE both ways inside a 183 early dialog; the failed INVITE leaves no dialog', async () => {
  const tx = alice.request('INVITE', bob.aor, { body: SDP('alice') });
  const inv = await bob.waitRequest('INVITE');
  const bobEarly = bob.respond(inv, 183, 'Session Progress', { body: SDP('bob') });
  const aliceEarly = alice.dialogFrom(tx, await alice.waitStatus(183, 'INVITE'));
  assert.equal(await metric('imsgw_dialogs'), 2, 'both legs of the early dialog are held');
  alice.inDialog(aliceEarly, 'UPDATE', { body: SDP('alice-2') });
  const upd = await bob.waitRequest('UPDATE');
  bob.respond(upd, 200, 'OK', { toTag: bobEarly.localTag });
  await alice.waitStatus(200, 'UPDATE');
  bob.inDialog(bobEarly, 'UPDATE', { body: SDP('bob-2') });
  const upd2 = await alice.waitRequest('UPDATE');
  alice.respond(upd2, 200, 'OK', { toTag: aliceEarly.localTag });
  await bob.waitStatus(200, 'UPDATE');
  bob.respond(inv, 486, 'Busy Here', { toTag: bobEarly.localTag });
  await alice.waitStatus(486, 'INVITE');
  assert.equal(await settle('imsgw_dialogs', 0), 0);
  alice.inDialog(aliceEarly, 'UPDATE');
  assert.equal((await answerOf(alice, 'UPDATE')).status, 481, 'the early dialog is gone');
});

/** A BYE as the core would send it to alice in dialog d (alice's view), sent from `from`. */
function imsBye(d, branch, transport, port) {
  return [`BYE ${d.local} SIP/2.0`, `Via: SIP/2.0/${transport} 127.0.0.2:${port};rport;branch=${branch}`, 'Max-Forwards: 70',
    `From: <${d.remote}>;tag=${d.remoteTag}`, `To: <${d.local}>;tag=${d.localTag}`, `Call-ID: ${d.callId}`,
    'CSeq: 900 BYE', `Route: ${d.routes[0]}`, 'Content-Length: 0', '', ''].join('\r\n');
}

test('a BYE from an address that is not the IMS core (UDP and TCP) gets 403 and ends nothing', async () => {
  const { callerDialog, calleeDialog } = await establish(alice, bob);
  assert.equal(await metric('imsgw_dialogs'), 2);
  const udp = dgram.createSocket('udp4');
  await new Promise((resolve) => udp.bind(0, '127.0.0.2', resolve));
  const udpAnswer = new Promise((resolve) => udp.once('message', (b) => resolve(parseSip(b.toString()))));
  udp.send(imsBye(callerDialog, 'z9hG4bK-forged-udp', 'UDP', udp.address().port), stack.gwSipPort, '127.0.0.1');
  assert.equal((await within(udpAnswer)).status, 403);
  udp.close();
  const tcp = net.connect({ port: stack.gwSipPort, host: '127.0.0.1', localAddress: '127.0.0.2' });
  await new Promise((resolve) => tcp.once('connect', resolve));
  let text = '';
  const tcpAnswer = new Promise((resolve) => tcp.on('data', (b) => {
    text += b;
    if (text.includes('\r\n\r\n')) resolve(parseSip(text));
  }));
  tcp.write(imsBye(callerDialog, 'z9hG4bK-forged-tcp', 'TCP', tcp.localPort));
  assert.equal((await within(tcpAnswer)).status, 403);
  tcp.destroy();
  await sleep(100);
  assert.equal(await metric('imsgw_dialogs'), 2, 'both legs still tracked');
  assert.equal(alice.requests.filter((r) => r.start.startsWith('BYE')).length, 0, 'alice got no BYE');
  // and the call still works: UPDATE in dialog, then a real hang-up
  alice.inDialog(callerDialog, 'UPDATE', { body: SDP('alice-2') });
  const upd = await bob.waitRequest('UPDATE');
  bob.respond(upd, 200, 'OK', { toTag: calleeDialog.localTag });
  await alice.waitStatus(200, 'UPDATE');
  await hangUp(alice, callerDialog, bob, calleeDialog);
  assert.equal(await settle('imsgw_dialogs', 0), 0);
});

test('a callee\'s forged P-Asserted-Identity in its response never reaches the caller', async () => {
  alice.request('MESSAGE', bob.aor, { body: 'who are you', contentType: 'text/plain' });
  const m = await bob.waitRequest('MESSAGE');
  bob.respond(m, 200, 'OK', { extra: ['P-Asserted-Identity: <sip:operator@ims.test>', 'P-Charging-Vector: icid-value=forged'] });
  const ok = await alice.waitStatus(200, 'MESSAGE');
  assert.doesNotMatch(ok.text, /operator|forged/);
  // the stub passes the identity the gateway asserted for bob (TS 24.229 §5.2.6.4)
  assert.deepEqual(ok.headers['p-asserted-identity'], ['<sip:bob@ims.test>']);
  const tx = alice.request('INVITE', bob.aor, { body: SDP('alice') });
  const inv = await bob.waitRequest('INVITE');
  bob.respond(inv, 486, 'Busy Here', { extra: ['P-Asserted-Identity: <sip:operator@ims.test>'] });
  const busy = await alice.waitStatus(486, 'INVITE');
  assert.doesNotMatch(busy.text, /operator/);
  assert.ok(tx.branch);
});

test('Max-Forwards absent → forwarded with 70, towards the core and towards the WebSocket', async () => {
  // towards the core: alice's MESSAGE with Max-Forwards 70, then one without
  alice.request('MESSAGE', bob.aor, { body: 'with', contentType: 'text/plain' });
  const withMf = await bob.waitRequest('MESSAGE');
  bob.respond(withMf, 200, 'OK');
  await alice.waitStatus(200, 'MESSAGE');
  alice.send([`MESSAGE ${bob.aor} SIP/2.0`, `Via: SIP/2.0/WSS ${alice.host};branch=z9hG4bK-nomf`,
    `From: <${alice.aor}>;tag=nomf`, `To: <${bob.aor}>`, 'Call-ID: no-max-forwards', 'CSeq: 1 MESSAGE',
    ...alice.serviceRoute.map((r) => `Route: ${r}`), 'Content-Type: text/plain', 'Content-Length: 7', '', 'without'].join('\r\n'));
  const withoutMf = await bob.waitRequest('MESSAGE');
  bob.respond(withoutMf, 200, 'OK');
  await alice.waitStatus(200, 'MESSAGE');
  assert.equal(withoutMf.body, 'without');
  // the gateway sends 70 where a client's 70 leaves it as 69; the hops after it are the same
  assert.equal(Number(withoutMf.headers['max-forwards'][0]), Number(withMf.headers['max-forwards'][0]) + 1);
  // towards the WebSocket: a request from the core without Max-Forwards reaches bob with 70
  const { callerDialog, calleeDialog } = await establish(alice, bob);
  const udp = dgram.createSocket('udp4');
  await new Promise((resolve) => udp.bind(0, '127.0.0.1', resolve));
  const d = calleeDialog; // bob's view: the core sends to bob along bob's Record-Route entry
  udp.send([`INFO ${d.local} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${udp.address().port};branch=z9hG4bK-core-nomf`,
    `From: <${d.remote}>;tag=${d.remoteTag}`, `To: <${d.local}>;tag=${d.localTag}`, `Call-ID: ${d.callId}`,
    'CSeq: 901 INFO', `Route: ${d.routes[0]}`, 'Content-Length: 0', '', ''].join('\r\n'), stack.gwSipPort, '127.0.0.1');
  const info = await bob.waitRequest('INFO');
  assert.deepEqual(info.headers['max-forwards'], ['70']);
  const answered = new Promise((resolve) => udp.on('message', (b) => {
    const r = parseSip(b.toString());
    if (r.status >= 200) resolve(r);
  }));
  bob.respond(info, 200, 'OK', { toTag: d.localTag });
  assert.equal((await within(answered)).status, 200);
  udp.close();
  await hangUp(alice, callerDialog, bob, calleeDialog);
});

test('Proxy-Require with unknown options → 420 listing them in Unsupported', async () => {
  alice.request('MESSAGE', bob.aor, { body: 'x', contentType: 'text/plain',
    extra: ['Proxy-Require: foo, bar', 'Proxy-Require: baz'] });
  const r = await answerOf(alice, 'MESSAGE');
  assert.equal(r.status, 420);
  const tags = r.headers.unsupported.join(',').split(',').map((t) => t.trim()).sort();
  assert.deepEqual(tags, ['bar', 'baz', 'foo']);
});

const options = (branch) => ['OPTIONS sip:ims.test SIP/2.0', `Via: SIP/2.0/WS x.invalid;branch=${branch}`,
  'Max-Forwards: 70', `From: <sip:alice@ims.test>;tag=${branch}`, 'To: <sip:ims.test>', `Call-ID: two-${branch}`,
  'CSeq: 1 OPTIONS', 'Content-Length: 0', '', ''].join('\r\n');

test('two SIP messages in one WebSocket message: 400 when a request comes first, close when a response does', async () => {
  const a = await SipWs.open(stack.wsUrl);
  a.send(options('z9hG4bK-two-1') + options('z9hG4bK-two-2'));
  const r = parseSip(await a.next());
  assert.equal(r.status, 400);
  await assert.rejects(a.next(300), /no SIP message/, 'the second message is not processed');
  a.close();
  const b = await SipWs.open(stack.wsUrl);
  b.send(['SIP/2.0 200 OK', 'Via: SIP/2.0/WS 127.0.0.1;branch=z9hG4bK-x', 'From: <sip:a@ims.test>;tag=1',
    'To: <sip:b@ims.test>;tag=2', 'Call-ID: two-rsp', 'CSeq: 1 MESSAGE', 'Content-Length: 0', '', ''].join('\r\n') +
    options('z9hG4bK-two-3'));
  assert.equal(await b.closed, 1007);
  // a lone message with trailing line ends is still one message
  const c = await SipWs.open(stack.wsUrl);
  c.send(options('z9hG4bK-two-4') + '\r\n');
  assert.notEqual(parseSip(await c.next()).status, 400);
  c.close();
});
