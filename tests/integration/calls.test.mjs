// Issue 5: calls and messages between two browser users through gateway and IMS stub.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, sleep } from './harness.mjs';
import { Ua, SDP, splitList } from './sipua.mjs';

let stack, alice, bob;
before(async () => {
  stack = await startStack({ users: ['alice', 'bob', 'carol'] });
  alice = await Ua.register(stack, 'alice');
  bob = await Ua.register(stack, 'bob');
});
after(async () => {
  alice.close();
  bob.close();
  const results = await stack.stop();
  for (const [name, r] of Object.entries(results)) assert.deepEqual(r, { code: 0, sig: null }, name);
});

const metric = async (name) => {
  const text = await (await fetch(`${stack.httpUrl}/metrics`)).text();
  const m = new RegExp(`^${name} ([0-9.]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
};

test('alice calls bob: 100 at once, 180, 200 with SDP unchanged, ACK, BYE from bob', async () => {
  const offer = SDP('alice');
  const tx = alice.request('INVITE', 'sip:bob@ims.test', { body: offer });
  const trying = await alice.waitStatus(100, 'INVITE', 200);
  assert.equal(trying.status, 100);
  const inv = await bob.waitRequest('INVITE');
  assert.equal(inv.body, offer, 'SDP passes unchanged');
  const rr = splitList(inv.headers['record-route']);
  assert.ok(rr.some((r) => /transport=ws/.test(r)), `a WebSocket-side Record-Route: ${rr}`);
  assert.match(inv.headers['p-asserted-identity'][0], /sip:alice@ims\.test/);
  assert.match(inv.headers.via[0], /^SIP\/2\.0\/WSS? /);
  bob.respond(inv, 180, 'Ringing');
  await alice.waitStatus(180, 'INVITE');
  const bobDialog = bob.respond(inv, 200, 'OK', { body: SDP('bob') });
  const ok = await alice.waitStatus(200, 'INVITE');
  assert.equal(ok.body, SDP('bob'));
  const d = alice.dialogFrom(tx, ok);
  alice.inDialog(d, 'ACK');
  await bob.waitRequest('ACK');
  bob.inDialog(bobDialog, 'BYE');
  const bye = await alice.waitRequest('BYE');
  alice.respond(bye, 200, 'OK');
  await bob.waitStatus(200, 'BYE');
  await sleep(100);
  assert.equal(await metric('imsgw_proxy_transactions'), 0, 'no transaction outlives the call');
});

test('MESSAGE both ways', async () => {
  alice.request('MESSAGE', 'sip:bob@ims.test', { body: 'hello bob', contentType: 'text/plain' });
  const m1 = await bob.waitRequest('MESSAGE');
  assert.equal(m1.body, 'hello bob');
  bob.respond(m1, 200, 'OK');
  await alice.waitStatus(200, 'MESSAGE');
  bob.request('MESSAGE', 'sip:alice@ims.test', { body: 'hi alice', contentType: 'text/plain' });
  const m2 = await alice.waitRequest('MESSAGE');
  assert.equal(m2.body, 'hi alice');
  alice.respond(m2, 200, 'OK');
  await bob.waitStatus(200, 'MESSAGE');
});

test('CANCEL before answer: 487 to the caller, CANCEL reaches the callee', async () => {
  const tx = alice.request('INVITE', 'sip:bob@ims.test', { body: SDP('alice') });
  const inv = await bob.waitRequest('INVITE');
  bob.respond(inv, 180, 'Ringing');
  await alice.waitStatus(180, 'INVITE');
  alice.send([`CANCEL sip:bob@ims.test SIP/2.0`, `Via: SIP/2.0/WSS ${alice.host};branch=${tx.branch}`, 'Max-Forwards: 70',
    `From: <${alice.aor}>;tag=${tx.fromTag}`, 'To: <sip:bob@ims.test>', `Call-ID: ${tx.callId}`, 'CSeq: 1 CANCEL',
    'Content-Length: 0', '', ''].join('\r\n'));
  await alice.waitStatus(200, 'CANCEL');
  const cancel = await bob.waitRequest('CANCEL');
  bob.respond(cancel, 200, 'OK');
  bob.respond(inv, 487, 'Request Terminated');
  await alice.waitStatus(487, 'INVITE');
  // alice's ACK for the 487 is absorbed by the gateway, which then closes the transaction
  for (let i = 0; i < 40 && (await metric('imsgw_proxy_transactions')) > 0; i++) await sleep(25);
  assert.equal(await metric('imsgw_proxy_transactions'), 0, 'closed by the ACK, not by a timer');
});

test('forged P-Asserted-Identity and spoofed From: the asserted identity is the registered one (T17)', async () => {
  alice.request('MESSAGE', 'sip:bob@ims.test', { body: 'x', contentType: 'text/plain',
    extra: ['P-Asserted-Identity: <sip:eve@ims.test>', 'P-Preferred-Identity: <sip:mallory@ims.test>'] });
  const m = await bob.waitRequest('MESSAGE');
  assert.deepEqual(m.headers['p-asserted-identity'], ['<sip:alice@ims.test>']);
  assert.equal(m.headers['p-preferred-identity'], undefined);
  bob.respond(m, 200, 'OK');
  await alice.waitStatus(200, 'MESSAGE');
});

test('unknown user → 404, known but unregistered → 480', async () => {
  alice.request('MESSAGE', 'sip:nobody@ims.test', { body: 'x', contentType: 'text/plain' });
  assert.equal((await alice.waitResponse((r) => r.status >= 400)).status, 404);
  alice.request('INVITE', 'sip:carol@ims.test', { body: SDP('alice') });
  assert.equal((await alice.waitResponse((r) => r.status >= 400)).status, 480);
});

test('requests from a flow without a registration get 403; Max-Forwards 0 → 483', async () => {
  const { SipWs } = await import('./harness.mjs');
  const c = await SipWs.open(stack.wsUrl);
  const r = await c.request(['MESSAGE sip:bob@ims.test SIP/2.0', 'Via: SIP/2.0/WSS x.invalid;branch=z9hG4bK-u1',
    'Max-Forwards: 70', 'From: <sip:alice@ims.test>;tag=1', 'To: <sip:bob@ims.test>', 'Call-ID: unreg', 'CSeq: 1 MESSAGE',
    'Content-Length: 0', '', ''].join('\r\n'));
  assert.equal(r.status, 403);
  c.close();
  alice.request('MESSAGE', 'sip:bob@ims.test', { body: 'x', contentType: 'text/plain', extra: [] });
  const m = await bob.waitRequest('MESSAGE');
  bob.respond(m, 200, 'OK');
  await alice.waitStatus(200, 'MESSAGE');
});

test('callee WebSocket closed: the core gets 430 and the caller a final failure', async () => {
  const carol = await Ua.register(stack, 'carol');
  carol.close();
  await sleep(200);
  alice.request('INVITE', 'sip:carol@ims.test', { body: SDP('alice') });
  const fail = await alice.waitResponse((r) => r.status >= 400, 10000);
  assert.ok([430, 480].includes(fail.status), `final ${fail.status}`);
});

/** alice calls bob; both sides get their dialog. */
async function establish(caller, callee, sdp = SDP(caller.user)) {
  const tx = caller.request('INVITE', callee.aor, { body: sdp });
  const inv = await callee.waitRequest('INVITE');
  const calleeDialog = callee.respond(inv, 200, 'OK', { body: SDP(callee.user) });
  const ok = await caller.waitStatus(200, 'INVITE');
  const callerDialog = caller.dialogFrom(tx, ok);
  caller.inDialog(callerDialog, 'ACK');
  await callee.waitRequest('ACK');
  return { callerDialog, calleeDialog, inv };
}

test('re-INVITE and UPDATE in dialog, then BYE from the caller', async () => {
  const { callerDialog, calleeDialog } = await establish(alice, bob);
  alice.inDialog(callerDialog, 'UPDATE', { body: SDP('alice-2') });
  const upd = await bob.waitRequest('UPDATE');
  assert.equal(upd.body, SDP('alice-2'));
  bob.respond(upd, 200, 'OK', { toTag: calleeDialog.localTag, body: SDP('bob-2') });
  await alice.waitStatus(200, 'UPDATE');
  bob.inDialog(calleeDialog, 'INVITE', { body: SDP('bob-3') });
  const reinv = await alice.waitRequest('INVITE');
  alice.respond(reinv, 200, 'OK', { toTag: callerDialog.localTag, body: SDP('alice-3') });
  await bob.waitStatus(200, 'INVITE');
  bob.inDialog(calleeDialog, 'ACK', { cseq: calleeDialog.cseq });
  await alice.waitRequest('ACK');
  alice.inDialog(callerDialog, 'BYE');
  const bye = await bob.waitRequest('BYE');
  bob.respond(bye, 200, 'OK', { toTag: calleeDialog.localTag });
  await alice.waitStatus(200, 'BYE');
  await sleep(100);
  assert.equal(await metric('imsgw_dialogs'), 0);
});

test('the caller\'s WebSocket closes mid-call: the callee receives BYE', async () => {
  const carol = await Ua.register(stack, 'carol');
  await establish(carol, bob);
  assert.equal(await metric('imsgw_dialogs'), 2, 'both legs of the call are tracked');
  carol.close();
  const bye = await bob.waitRequest('BYE', 5000);
  assert.match(bye.headers.from[0], /carol/);
  bob.respond(bye, 200, 'OK');
  await sleep(200);
  assert.equal(await metric('imsgw_dialogs'), 0);
  assert.equal(await metric('imsgw_proxy_transactions'), 0);
});

test('the callee\'s WebSocket closes mid-call: the caller receives BYE', async () => {
  const carol = await Ua.register(stack, 'carol');
  await establish(alice, carol);
  carol.close();
  const bye = await alice.waitRequest('BYE', 5000);
  alice.respond(bye, 200, 'OK');
  await sleep(200);
  assert.equal(await metric('imsgw_dialogs'), 0);
});

test('bad input: forged Route token → 403, CANCEL for nothing → 481, Max-Forwards 0 → 483, garbage SDP passes and calls go on', async () => {
  const { callerDialog, calleeDialog } = await establish(alice, bob);
  const forged = { ...callerDialog, routes: callerDialog.routes.map((r) => r.replace(/sip:([A-Za-z0-9_-]{6})/, 'sip:AAAAAA')) };
  alice.inDialog(forged, 'INFO');
  assert.equal((await alice.waitResponse((r) => r.headers.cseq[0].endsWith('INFO'))).status, 403);
  // a To-tag and a Route of the client's choosing do not make a dialog (no open relay)
  const fake = { ...callerDialog, remoteTag: 'x', routes: ['<sip:127.0.0.99:5999;lr>'] };
  alice.inDialog(fake, 'MESSAGE');
  assert.equal((await alice.waitResponse((r) => r.headers.cseq[0].endsWith('MESSAGE'))).status, 481);
  alice.send(['CANCEL sip:bob@ims.test SIP/2.0', `Via: SIP/2.0/WSS ${alice.host};branch=z9hG4bK-nothing`, 'Max-Forwards: 70',
    `From: <${alice.aor}>;tag=x`, 'To: <sip:bob@ims.test>', 'Call-ID: nothing', 'CSeq: 1 CANCEL', 'Content-Length: 0', '', ''].join('\r\n'));
  assert.equal((await alice.waitResponse((r) => r.headers['call-id'][0] === 'nothing')).status, 481);
  alice.request('MESSAGE', bob.aor, { body: 'x', contentType: 'text/plain', extra: [] });
  const m = await bob.waitRequest('MESSAGE');
  bob.respond(m, 200, 'OK');
  await alice.waitStatus(200, 'MESSAGE');
  const garbage = 'this is not SDP \u0001\u0002';
  alice.request('INVITE', bob.aor, { body: garbage });
  const inv = await bob.waitRequest('INVITE');
  assert.equal(inv.body, garbage, 'the gateway does not touch bodies');
  bob.respond(inv, 488, 'Not Acceptable Here');
  assert.equal((await alice.waitResponse((r) => r.status === 488)).status, 488);
  // the established call is unaffected
  alice.inDialog(callerDialog, 'BYE');
  const bye = await bob.waitRequest('BYE');
  bob.respond(bye, 200, 'OK', { toTag: calleeDialog.localTag });
  await alice.waitStatus(200, 'BYE');
});

test('500 INVITEs at once from one flow: bounded per flow with 503 + Retry-After', async () => {
  const txs = [];
  for (let i = 0; i < 500; i++) txs.push(alice.request('INVITE', bob.aor, { body: SDP('alice') }));
  let busy = 0;
  for (let i = 0; i < 500; i++) {
    const r = await alice.waitResponse((x) => x.status >= 200 || x.status === 503, 10000).catch(() => null);
    if (!r) break;
    if (r.status === 503) { busy++; assert.ok(r.headers['retry-after'], 'Retry-After'); }
    if (busy + 32 >= 500) break;
  }
  assert.ok(busy >= 500 - 32, `refused ${busy}`);
  // the callee declines what got through; everything is cleaned up
  for (let i = 0; i < 32; i++) {
    const inv = await bob.waitRequest('INVITE', 5000).catch(() => null);
    if (!inv) break;
    bob.respond(inv, 486, 'Busy Here');
  }
  for (let i = 0; i < 400 && (await metric("imsgw_proxy_transactions")) > 0; i++) await sleep(25);
  assert.equal(await metric('imsgw_proxy_transactions'), 0);
  alice.responses.length = 0;
  bob.requests.length = 0;
});
