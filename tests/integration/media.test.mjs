// Issue 12: the gateway anchors calls between the WebSocket side and the IMS side on rtpengine
// (eIMS-AGW). A WebSocket user (WebRTC SDP) and an IMS-native UA (plain RTP/AVP, Digest at the
// stub) call each other; each side must see SDP of its own kind, and after every way a call can
// end the relay holds no session. The relay going away fails new calls with 503 at once while
// registrations and messages go on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startStack, sleep } from './harness.mjs';
import { Ua } from './sipua.mjs';
import { NativeUa } from './native-ua.mjs';
import { Rtpengine } from './rtpengine.mjs';

let stack, relay, alice, carol;

/** An SDP offer as a browser makes it: BUNDLE, ICE, DTLS fingerprint, rtcp-mux, Opus first. */
const randomFingerprint = () => crypto.randomBytes(32).toString('hex').toUpperCase().match(/../g).join(':');
const webrtcSdp = (setup = 'actpass', { direction = 'sendrecv', fingerprint = randomFingerprint(), version = 2 } = {}) => ['v=0',
  `o=- 4611731400430051336 ${version} IN IP4 127.0.0.1`, 's=-', 't=0 0', 'a=group:BUNDLE 0',
  'a=msid-semantic: WMS', 'm=audio 40000 UDP/TLS/RTP/SAVPF 111 8 0 101', 'c=IN IP4 127.0.0.1', 'a=rtcp:9 IN IP4 0.0.0.0',
  'a=candidate:1 1 udp 2122260223 127.0.0.1 40000 typ host', 'a=ice-ufrag:wsUf', 'a=ice-pwd:abcdefghijklmnopqrstuvwx',
  `a=fingerprint:sha-256 ${fingerprint}`, `a=setup:${setup}`, 'a=mid:0', `a=${direction}`, 'a=rtcp-mux', 'a=rtpmap:111 opus/48000/2',
  'a=fmtp:111 minptime=10;useinbandfec=1', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:101 telephone-event/8000', ''].join('\r\n');

function assertImsSdp(sdp) {
  assert.match(sdp, /m=audio \d+ RTP\/AVP /, 'IMS side gets plain RTP/AVP');
  assert.doesNotMatch(sdp, /a=(ice-ufrag|ice-pwd|candidate|fingerprint|setup|crypto)/, 'no ICE/DTLS/SDES');
  assert.match(sdp, /c=IN IP4 127\.0\.0\.1/);
}
function assertWebrtcSdp(sdp, setup) {
  assert.match(sdp, /m=audio \d+ UDP\/TLS\/RTP\/SAVPF /, 'WebSocket side gets WebRTC');
  assert.match(sdp, /a=ice-ufrag:/);
  assert.match(sdp, /a=candidate:/);
  assert.match(sdp, /a=fingerprint:sha-256 /);
  assert.match(sdp, new RegExp(`a=setup:${setup}`));
  assert.match(sdp, /a=rtcp-mux/);
  assert.match(sdp, /a=ice-lite/, 'the relay is ICE-lite towards the browser');
}
const metric = async (name) => {
  const text = await (await fetch(`${stack.httpUrl}/metrics`)).text();
  return Number((new RegExp(`^${name} (\\S+)$`, 'm').exec(text) || [])[1]);
};

before(async () => {
  relay = await Rtpengine.start();
  stack = await startStack({
    nativeUsers: ['carol'], stubArgs: ['--auth-mode', 'digest'],
    gatewayArgs: ['--media', 'rtpengine', '--media-relay', `127.0.0.1:${relay.ngPort}`, '--media-timeout', '1500', '--timer-c', '3'],
  });
  alice = await Ua.register(stack, 'alice');
  carol = await NativeUa.register(stack, 'carol');
});
after(async () => {
  alice?.close();
  carol?.close();
  const results = await stack.stop();
  await relay.stop();
  for (const [name, r] of Object.entries(results)) assert.deepEqual(r, { code: 0, sig: null }, name);
});

/** alice's CANCEL of her INVITE tx (same branch). */
function cancelFromAlice(tx) {
  alice.send([`CANCEL ${carol.aor} SIP/2.0`, `Via: SIP/2.0/WSS ${alice.host};branch=${tx.branch}`, 'Max-Forwards: 70',
    `From: <${alice.aor}>;tag=${tx.fromTag}`, `To: <${carol.aor}>`, `Call-ID: ${tx.callId}`, 'CSeq: 1 CANCEL',
    ...alice.serviceRoute.map((r) => `Route: ${r}`), 'Content-Length: 0', '', ''].join('\r\n'));
}

/** alice (WebSocket) calls carol (native); returns the state once both ends are in the call. */
async function wsCallsNative() {
  const tx = alice.request('INVITE', carol.aor, { body: webrtcSdp() });
  const inv = await carol.waitRequest('INVITE', 5000);
  assertImsSdp(inv.body);
  const nd = carol.respond(inv, 200, 'OK', carol.sdp(['PCMA']));
  const ok = await alice.waitStatus(200, 'INVITE', 5000);
  assertWebrtcSdp(ok.body, 'passive'); // answerer towards the browser: passive (RFC 5763)
  const wd = alice.dialogFrom(tx, ok);
  alice.inDialog(wd, 'ACK');
  await carol.waitRequest('ACK', 5000);
  return { tx, inv, nd, wd };
}

test('WebSocket user calls the native UA: each side gets its own SDP; BYE from the native side empties the relay', async () => {
  const { nd } = await wsCallsNative();
  assert.equal((await relay.callsReach(1)).length, 1);
  assert.equal(await metric('imsgw_media_sessions'), 1);
  carol.inDialog(nd, 'BYE');
  const bye = await alice.waitRequest('BYE', 5000);
  alice.respond(bye, 200, 'OK', { toTag: bye.toTag });
  await carol.waitStatus(200, 'BYE', 5000);
  await relay.callsReach(0);
  assert.equal(await metric('imsgw_media_sessions'), 0);
  assert.ok(await metric('imsgw_media_relay_answered_total') >= 2);
});

test('native UA calls the WebSocket user (offer PCMA only): Opus is added for the browser; BYE from the browser empties the relay', async () => {
  const call = carol.invite(alice.aor, carol.sdp(['PCMA']));
  const inv = await alice.waitRequest('INVITE', 5000);
  assertWebrtcSdp(inv.body, 'actpass'); // offerer towards the browser: actpass
  assert.match(inv.body, /a=rtpmap:\d+ opus\/48000/, 'Opus offered to the browser (transcoded)');
  const wd = alice.respond(inv, 200, 'OK', { body: webrtcSdp('active') });
  const ok = await carol.waitStatus(200, 'INVITE', 5000);
  assertImsSdp(ok.body);
  const nd = carol.dialogFrom(call, ok);
  carol.ack(call, ok, nd);
  await alice.waitRequest('ACK', 5000);
  await relay.callsReach(1);
  alice.inDialog(wd, 'BYE');
  const bye = await carol.waitRequest('BYE', 5000);
  carol.respond(bye, 200, 'OK');
  await alice.waitStatus(200, 'BYE', 5000);
  await relay.callsReach(0);
});

test('PCMA-only offer from the IMS side, Opus-only answer from the browser: the relay transcodes', async () => {
  const call = carol.invite(alice.aor, carol.sdp(['PCMA']));
  const inv = await alice.waitRequest('INVITE', 5000);
  const opusPt = /a=rtpmap:(\d+) opus\/48000/.exec(inv.body)[1];
  // the browser keeps only Opus (as one whose codec preferences say so would)
  const answer = webrtcSdp('active').replace(/m=audio 40000 \S+ [\d ]+/, `m=audio 40000 UDP/TLS/RTP/SAVPF ${opusPt}`)
    .replace(/a=rtpmap:.*\r\n|a=fmtp:.*\r\n/g, '') + `a=rtpmap:${opusPt} opus/48000/2\r\n`;
  const wd = alice.respond(inv, 200, 'OK', { body: answer });
  const ok = await carol.waitStatus(200, 'INVITE', 5000);
  assert.match(ok.body, /m=audio \d+ RTP\/AVP 8[ \r]/, 'the native side keeps its PCMA');
  carol.ack(call, ok, carol.dialogFrom(call, ok));
  const [id] = await relay.callsReach(1);
  const q = await relay.ng({ command: 'query', 'call-id': id });
  const medias = Object.values(q.tags).map((t) => t.medias[0]);
  const ws = medias.find((m) => m.protocol === 'UDP/TLS/RTP/SAVPF'), ims = medias.find((m) => m.protocol === 'RTP/AVP');
  assert.ok(ws.flags.includes('transcoding') && ims.flags.includes('transcoding'), JSON.stringify(medias.map((m) => m.flags)));
  assert.ok(ws.flags.includes('DTLS-SRTP') && ws.flags.includes('ICE') && ws.flags.includes('rtcp-mux'));
  alice.inDialog(wd, 'BYE');
  const bye = await carol.waitRequest('BYE', 5000);
  carol.respond(bye, 200, 'OK');
  await relay.callsReach(0);
});

test('CANCEL, 486 and Timer C leave no relay session', async () => {
  // CANCEL from the browser while the native UA rings
  let tx = alice.request('INVITE', carol.aor, { body: webrtcSdp() });
  let inv = await carol.waitRequest('INVITE', 5000);
  carol.respond(inv, 180, 'Ringing');
  await alice.waitStatus(180, 'INVITE', 5000);
  await relay.callsReach(1);
  cancelFromAlice(tx);
  const cancel = await carol.waitRequest('CANCEL', 5000);
  carol.respond(cancel, 200, 'OK');
  carol.respond(inv, 487, 'Request Terminated');
  await alice.waitStatus(487, 'INVITE', 5000);
  await relay.callsReach(0);

  // 486 from the native UA
  alice.request('INVITE', carol.aor, { body: webrtcSdp() });
  inv = await carol.waitRequest('INVITE', 5000);
  carol.respond(inv, 486, 'Busy Here');
  await alice.waitStatus(486, 'INVITE', 5000);
  await relay.callsReach(0);

  // Timer C (3 s here): the native UA rings but never answers; the gateway cancels
  tx = alice.request('INVITE', carol.aor, { body: webrtcSdp() });
  inv = await carol.waitRequest('INVITE', 5000);
  carol.respond(inv, 180, 'Ringing');
  await relay.callsReach(1);
  const c2 = await carol.waitRequest('CANCEL', 8000);
  carol.respond(c2, 200, 'OK');
  carol.respond(inv, 487, 'Request Terminated');
  await alice.waitStatus(487, 'INVITE', 5000);
  await relay.callsReach(0);
});

test('WebSocket closed mid-call: the gateway BYEs the native side and deletes the relay session', async () => {
  const bob = await Ua.register(stack, 'bob');
  const tx = bob.request('INVITE', carol.aor, { body: webrtcSdp() });
  const inv = await carol.waitRequest('INVITE', 5000);
  carol.respond(inv, 200, 'OK', carol.sdp());
  const ok = await bob.waitStatus(200, 'INVITE', 5000);
  bob.inDialog(bob.dialogFrom(tx, ok), 'ACK');
  await relay.callsReach(1);
  bob.close();
  const bye = await carol.waitRequest('BYE', 5000);
  carol.respond(bye, 200, 'OK');
  await relay.callsReach(0);
});

const direction = (sdp) => (/a=(sendrecv|sendonly|recvonly|inactive)/.exec(sdp) || [null, 'sendrecv'])[1];
const ufrag = (sdp) => (/a=ice-ufrag:(\S+)/.exec(sdp) || [])[1];

test('hold and resume from the browser (re-INVITE sendonly/sendrecv), hold from the native side (inactive)', async () => {
  const fingerprint = randomFingerprint();
  let version = 2;
  const tx = alice.request('INVITE', carol.aor, { body: webrtcSdp('actpass', { fingerprint }) });
  const inv = await carol.waitRequest('INVITE', 5000);
  const nd = carol.respond(inv, 200, 'OK', carol.sdp(['PCMA'], { offer: inv.body }));
  const ok = await alice.waitStatus(200, 'INVITE', 5000);
  const wd = alice.dialogFrom(tx, ok);
  alice.inDialog(wd, 'ACK');
  await carol.waitRequest('ACK', 5000);
  const [id] = await relay.callsReach(1);
  const reinvite = async (dir, answerDir) => {
    alice.inDialog(wd, 'INVITE', { body: webrtcSdp('actpass', { fingerprint, direction: dir, version: ++version }) });
    const r = await carol.waitRequest('INVITE', 5000);
    assertImsSdp(r.body);
    assert.equal(direction(r.body), dir, `the native UA sees a=${dir}`);
    carol.respond(r, 200, 'OK', carol.sdp(['PCMA'], { offer: r.body, direction: answerDir }), nd.localTag);
    const a = await alice.waitStatus(200, 'INVITE', 5000);
    assertWebrtcSdp(a.body, 'passive');
    assert.equal(direction(a.body), answerDir, `the browser sees a=${answerDir}`);
    assert.equal(ufrag(a.body), ufrag(ok.body), 'no ICE restart: the media path stays');
    alice.inDialog(wd, 'ACK');
    await carol.waitRequest('ACK', 5000);
  };
  await reinvite('sendonly', 'recvonly'); // hold
  await reinvite('sendrecv', 'sendrecv'); // resume
  assert.deepEqual(await relay.calls(), [id], 'the same relay call all along');

  // Hold from the native side: its re-INVITE offers a=inactive to the browser.
  carol.inDialog(nd, 'INVITE', carol.sdp(['PCMA'], { direction: 'inactive' }));
  const r = await alice.waitRequest('INVITE', 5000);
  assertWebrtcSdp(r.body, '(actpass|passive|active)');
  assert.equal(direction(r.body), 'inactive');
  alice.respond(r, 200, 'OK', { body: webrtcSdp('active', { fingerprint, direction: 'inactive', version: ++version }), toTag: wd.localTag });
  const a = await carol.waitStatus(200, 'INVITE', 5000);
  assertImsSdp(a.body);
  assert.equal(direction(a.body), 'inactive');
  carol.inDialog(nd, 'ACK');
  await alice.waitRequest('ACK', 5000);
  const q = await relay.ng({ command: 'query', 'call-id': id });
  assert.equal(Object.keys(q.tags).length, 2, 'still one call of two parties in the relay');

  carol.inDialog(nd, 'BYE');
  const bye = await alice.waitRequest('BYE', 5000);
  alice.respond(bye, 200, 'OK', { toTag: bye.toTag });
  await relay.callsReach(0);
});

test('browser to browser (media-bypass-ws-to-ws off, the default): both legs anchored, two relay calls', async () => {
  const bob = await Ua.register(stack, 'bob');
  const tx = alice.request('INVITE', bob.aor, { body: webrtcSdp() });
  const inv = await bob.waitRequest('INVITE', 5000);
  assertWebrtcSdp(inv.body, 'actpass'); // the relay's offer, not alice's
  assert.doesNotMatch(inv.body, /a=ice-ufrag:wsUf/);
  const bd = bob.respond(inv, 200, 'OK', { body: webrtcSdp('active') });
  const ok = await alice.waitStatus(200, 'INVITE', 5000);
  assertWebrtcSdp(ok.body, 'passive');
  alice.inDialog(alice.dialogFrom(tx, ok), 'ACK');
  await bob.waitRequest('ACK', 5000);
  assert.equal((await relay.callsReach(2)).length, 2);
  bob.inDialog(bd, 'BYE');
  const bye = await alice.waitRequest('BYE', 5000);
  alice.respond(bye, 200, 'OK', { toTag: bye.toTag });
  await relay.callsReach(0);
  bob.close();
});

test('a CANCEL from the browser while the INVITE waits for the relay: 200 to the CANCEL, 487 to the INVITE, nothing forwarded, no relay session', async () => {
  relay.proc.kill('SIGSTOP'); // the relay holds the offer unanswered (within media-timeout)
  try {
    // From the browser: the gateway has the INVITE (100 sent) but has not forwarded it yet.
    const tx = alice.request('INVITE', carol.aor, { body: webrtcSdp() });
    const ofTx = (status, method) => (m) => m.status === status && m.headers['call-id'][0] === tx.callId && m.headers.cseq[0].endsWith(method);
    await alice.waitResponse(ofTx(100, 'INVITE'), 2000);
    cancelFromAlice(tx);
    const c = await alice.waitResponse((m) => m.headers['call-id'][0] === tx.callId && m.headers.cseq[0].endsWith('CANCEL'), 2000);
    assert.equal(c.status, 200, 'the CANCEL matches the waiting INVITE'); // was 481 before the fix
    relay.proc.kill('SIGCONT');
    await alice.waitResponse(ofTx(487, 'INVITE'), 5000);
    await relay.callsReach(0);
    assert.ok(!carol.msgs.some((m) => m.headers['call-id']?.[0] === tx.callId), 'the INVITE never reached the IMS side');

    // (From the IMS side: media-cancel.test.mjs; the stub sends no CANCEL before a 1xx > 100.)
  } finally {
    relay.proc.kill('SIGCONT');
  }
});

test('relay down: INVITE gets 503 within the bound; REGISTER and MESSAGE go on; a relay that comes back is used again', async () => {
  await relay.stop();
  const t0 = Date.now();
  alice.request('INVITE', carol.aor, { body: webrtcSdp() });
  const r = await alice.waitResponse((m) => m.status >= 300 && /INVITE/.test(m.headers.cseq[0]), 5000);
  assert.equal(r.status, 503);
  assert.match(r.start, /media relay/i);
  assert.ok(Date.now() - t0 < 2500, `503 took ${Date.now() - t0} ms`);
  assert.ok(await metric('imsgw_media_relay_errors_total') >= 1);
  const bob = await Ua.register(stack, 'bob'); // registrations go on
  bob.request('MESSAGE', alice.aor, { body: 'hello', contentType: 'text/plain' });
  const msg = await alice.waitRequest('MESSAGE', 5000);
  alice.respond(msg, 200, 'OK');
  await bob.waitStatus(200, 'MESSAGE', 5000);
  bob.close();
  await relay.spawn(); // same ng port
  const { nd } = await wsCallsNative();
  carol.inDialog(nd, 'BYE');
  const bye = await alice.waitRequest('BYE', 5000);
  alice.respond(bye, 200, 'OK', { toTag: bye.toTag });
  await relay.callsReach(0);
});

test('a gateway restart: relay sessions it left behind are reconciled away', async () => {
  const { wd } = await wsCallsNative();
  await relay.callsReach(1);
  stack.gateway.proc.kill('SIGKILL'); // no chance to delete anything
  await stack.gateway.exited;
  await stack.startGateway();
  await relay.callsReach(0); // deleted by the start-up reconciliation
  alice.close();
  alice = await Ua.register(stack, 'alice');
  void wd;
});
