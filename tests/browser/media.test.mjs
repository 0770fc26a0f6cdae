// Issue 12, checklist 73: the web client in Chromium and an IMS-native UA (plain RTP/AVP PCMA,
// no ICE/DTLS, tests/integration/native-ua.mjs) call each other through the gateway with
// `media: rtpengine`, the relay (rtpengine on loopback) and the IMS stub. Chromium's microphone
// is a WAV tone written at test time; the UA sends a 440 Hz tone. Audio must flow both ways:
// the browser's getStats() shows inbound packets rising with a non-zero audioLevel, and the UA
// receives non-silent PCMA from the relay. Both directions of call set-up are tested.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sleep } from '../integration/harness.mjs';
import { NativeUa } from '../integration/native-ua.mjs';
import { Rtpengine } from '../integration/rtpengine.mjs';
import { startWicStack, launch, openPage, signIn, byId, shot, expectText, writeToneWav } from './wic-helpers.mjs';

let stack, relay, browser, alice, bob, carol, wavDir;

/** Inbound audio of the page's newest RTCPeerConnection, and the SDP it negotiated. */
const audioStats = (page) => page.evaluate(async () => {
  const pc = window.__pcs[window.__pcs.length - 1];
  if (!pc) return null;
  const out = { packets: 0, level: 0, sent: 0, codec: null, ice: pc.iceConnectionState, local: pc.localDescription?.sdp, remote: pc.remoteDescription?.sdp };
  const stats = await pc.getStats();
  stats.forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'audio') {
      out.packets += r.packetsReceived;
      out.level = Math.max(out.level, r.audioLevel || 0);
      out.codec = stats.get(r.codecId)?.mimeType || null;
    }
    if (r.type === 'outbound-rtp' && r.kind === 'audio') out.sent += r.packetsSent;
  });
  return out;
});

/** Waits (bounded) until the browser receives audio with a level and the UA receives non-silent
 * PCMA; fails with what each side saw. */
async function expectAudioBothWays(page, ua, label) {
  const rx0 = ua.rx.packets;
  const first = await audioStats(page);
  const until = Date.now() + 10000;
  let st = first;
  while (Date.now() < until) {
    await sleep(250);
    st = await audioStats(page);
    if (st && st.packets - (first?.packets || 0) >= 25 && st.level > 0.01 && ua.rx.packets - rx0 >= 25 && ua.rx.peak > 1000) break;
  }
  const what = `${label}: browser ice=${st?.ice} codec=${st?.codec} inbound=${st?.packets} level=${st?.level} sent=${st?.sent}; ` +
    `UA received ${ua.rx.packets - rx0} packets (types ${[...ua.rx.payloadTypes]}) peak ${ua.rx.peak} from ${ua.rx.from}\n` +
    `${page.log.slice(-10).join('\n')}\n${relay.log.slice(-1500)}`;
  assert.ok(st && st.packets - (first?.packets || 0) >= 25, `browser inbound packets do not rise: ${what}`);
  assert.ok(st.level > 0.01, `browser hears silence: ${what}`);
  assert.ok(ua.rx.packets - rx0 >= 25, `UA receives no RTP from the relay: ${what}`);
  assert.ok(ua.rx.peak > 1000, `UA receives only silence: ${what}`);
  assert.ok(ua.rx.payloadTypes.has(8), `UA receives PCMA: ${what}`);
  assert.match(ua.rx.from, /^127\.0\.0\.1:/, 'the UA hears the relay');
  return st;
}

/** RFC 4733 digits from the browser (RTCDTMFSender); the UA must receive them as
 * telephone-event/8000 from the relay (translated when the browser's clock is Opus' 48 kHz). */
async function expectDtmf(page, ua, tones) {
  const before = ua.rx.digits;
  const err = await page.evaluate((t) => {
    const sender = window.__pcs[window.__pcs.length - 1]?.getSenders().find((x) => x.track?.kind === 'audio');
    if (!sender?.dtmf?.canInsertDTMF) return 'the browser cannot send DTMF (no telephone-event negotiated)';
    sender.dtmf.insertDTMF(t, 100, 70);
    return null;
  }, tones);
  assert.equal(err, null);
  const until = Date.now() + 5000;
  while (ua.rx.digits.length < before.length + tones.length && Date.now() < until) await sleep(50);
  assert.equal(ua.rx.digits.slice(before.length), tones, `the UA received DTMF "${ua.rx.digits.slice(before.length)}"`);
}

/** The same through the page's keypad (issue 16) set to "In the audio (RFC 4733)": what a user
 * presses reaches the far end as telephone-event packets. */
async function expectKeypadDtmf(page, ua, tones) {
  const before = ua.rx.digits;
  await byId(page, 'keypad-toggle').click();
  await byId(page, 'dtmf-mode').selectOption('rfc4733');
  for (const t of tones) await byId(page, `key-${t}`).click();
  const until = Date.now() + 5000;
  while (ua.rx.digits.length < before.length + tones.length && Date.now() < until) await sleep(50);
  assert.equal(ua.rx.digits.slice(before.length), tones, `the UA received keypad DTMF "${ua.rx.digits.slice(before.length)}"`);
  assert.equal(await byId(page, 'dtmf-sent').getAttribute('data-via'), 'rfc4733');
  await byId(page, 'keypad-toggle').click();
}

function assertBrowserSdp(sdp) {
  assert.match(sdp, /m=audio \d+ UDP\/TLS\/RTP\/SAVPF /);
  assert.match(sdp, /a=fingerprint:sha-256 /);
  assert.match(sdp, /a=ice-ufrag:/);
  assert.match(sdp, /a=rtcp-mux/);
}
/** What the relay tells the browser: ICE-lite (the browser controls), rtcp-mux, its loopback. */
function assertRelaySdp(sdp) {
  assertBrowserSdp(sdp);
  assert.match(sdp, /a=ice-lite/);
  assert.match(sdp, /a=candidate:\S+ 1 (udp|UDP) \d+ 127\.0\.0\.1 /, 'the relay offers its loopback address');
}
function assertImsSdp(sdp) {
  assert.match(sdp, /m=audio \d+ RTP\/AVP /, 'the UA gets plain RTP/AVP');
  assert.doesNotMatch(sdp, /a=(ice-ufrag|ice-pwd|candidate|fingerprint|setup|crypto|rtcp-mux)/, 'no ICE/DTLS/SDES');
}

before(async () => {
  wavDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imsgw-wav-'));
  const wav = path.join(wavDir, 'tone.wav');
  writeToneWav(wav);
  relay = await Rtpengine.start();
  stack = await startWicStack({
    nativeUsers: ['carol'],
    stubArgs: ['--auth-mode', 'digest'],
    gatewayArgs: ['--media', 'rtpengine', '--media-relay', `127.0.0.1:${relay.ngPort}`, '--media-bypass-ws-to-ws', 'true'],
  });
  // rtpengine offers 127.0.0.1 only; Chromium gathers loopback candidates only when allowed.
  browser = await launch([`--use-file-for-fake-audio-capture=${wav}`, '--allow-loopback-in-peer-connection']);
  alice = await openPage(browser, 'alice');
  // A browser that prefers Opus in its answers (setCodecPreferences, as an application may ask):
  // offered PCMA first by an IMS phone it still picks Opus, so the relay must transcode.
  await alice.addInitScript(() => {
    const createAnswer = RTCPeerConnection.prototype.createAnswer;
    RTCPeerConnection.prototype.createAnswer = function (...a) {
      const codecs = RTCRtpReceiver.getCapabilities('audio').codecs;
      const opusFirst = [...codecs.filter((c) => c.mimeType === 'audio/opus'), ...codecs.filter((c) => c.mimeType !== 'audio/opus')];
      for (const t of this.getTransceivers()) if (t.receiver.track?.kind === 'audio') t.setCodecPreferences(opusFirst);
      return createAnswer.apply(this, a);
    };
  });
  await signIn(alice, stack, 'alice', stack.passwords.alice);
  bob = await openPage(browser, 'bob');
  await signIn(bob, stack, 'bob', stack.passwords.bob);
  carol = await NativeUa.register(stack, 'carol');
});

// A test that failed mid-call must not fail the next one for that reason.
beforeEach(async () => {
  carol?.stopRtp();
  for (const page of [alice, bob]) {
    if (page && await byId(page, 'hangup').isVisible()) {
      await byId(page, 'hangup').click();
      await relay.callsReach(0).catch(() => {});
    }
  }
});

after(async () => {
  await browser?.close();
  carol?.close();
  if (process.env.IMSGW_BROWSER_DEBUG) console.log(stack?.gateway.log, relay?.log);
  const exits = await stack?.stop();
  await relay?.stop();
  fs.rmSync(wavDir, { recursive: true, force: true });
  if (exits) for (const [name, r] of Object.entries(exits)) assert.deepEqual(r, { code: 0, sig: null }, `${name} exit`);
});

test('the browser calls the IMS-native UA: RTP/AVP towards the UA, WebRTC in the browser, audio both ways', async () => {
  await byId(alice, 'dial-input').fill('carol');
  await byId(alice, 'call').click();
  const inv = await carol.waitRequest('INVITE', 10000);
  assertImsSdp(inv.body);
  carol.respond(inv, 200, 'OK', carol.sdp(['PCMA'], { offer: inv.body }));
  carol.startRtp(NativeUa.mediaTarget(inv.body));
  await carol.waitRequest('ACK', 10000);
  await expectText(alice, 'call-status', /^In call with sip:carol@ims\.test$/);
  const st = await expectAudioBothWays(alice, carol, 'browser → UA');
  assertBrowserSdp(st.local);
  assertRelaySdp(st.remote);
  assert.match(st.remote, /a=setup:passive/, 'the relay answers DTLS passive (RFC 5763 §5)');
  await expectDtmf(alice, carol, '123');
  await expectKeypadDtmf(alice, carol, '5*0');
  await shot(alice, 'media-01-browser-calls-native');
  await byId(alice, 'hangup').click();
  const bye = await carol.waitRequest('BYE', 5000);
  carol.respond(bye, 200, 'OK');
  carol.stopRtp();
  await expectText(alice, 'call-status', /^Call ended$/);
  await relay.callsReach(0);
});

test('the IMS-native UA calls the browser: audio both ways, the UA hangs up', async () => {
  const call = carol.invite(alice.aor ?? 'sip:alice@ims.test', carol.sdp(['PCMA']));
  await expectText(alice, 'call-status', /^Incoming call from sip:carol@ims\.test$/);
  await byId(alice, 'answer').click();
  const ok = await carol.waitStatus(200, 'INVITE', 10000);
  assertImsSdp(ok.body);
  const d = carol.dialogFrom(call, ok);
  carol.ack(call, ok, d);
  carol.startRtp(NativeUa.mediaTarget(ok.body));
  await expectText(alice, 'call-status', /^In call with sip:carol@ims\.test$/);
  const st = await expectAudioBothWays(alice, carol, 'UA → browser');
  assertBrowserSdp(st.local);
  assertRelaySdp(st.remote);
  assert.match(st.remote, /a=setup:actpass/, 'the relay offers DTLS actpass');
  assert.match(st.remote, /a=rtpmap:\d+ opus\/48000/, 'Opus added to a PCMA-only offer (transcoded)');
  // The browser picks Opus (its preference): the relay transcodes PCMA <-> Opus both ways.
  assert.equal(st.codec, 'audio/opus');
  await expectDtmf(alice, carol, '#9');
  await shot(alice, 'media-02-native-calls-browser');
  carol.inDialog(d, 'BYE');
  await carol.waitStatus(200, 'BYE', 5000);
  carol.stopRtp();
  await expectText(alice, 'call-status', /^Call ended by sip:carol@ims\.test$/);
  await relay.callsReach(0);
});

test('early media: the UA\'s 183 with SDP is heard in the browser before the answer, the 200 keeps it', async () => {
  await byId(alice, 'dial-input').fill('carol');
  await byId(alice, 'call').click();
  const inv = await carol.waitRequest('INVITE', 10000);
  const answer = carol.sdp(['PCMA'], { offer: inv.body });
  carol.respond(inv, 183, 'Session Progress', answer);
  carol.startRtp(NativeUa.mediaTarget(inv.body));
  const until = Date.now() + 10000;
  let st;
  while (Date.now() < until) {
    st = await audioStats(alice);
    if (st?.packets >= 25 && st.level > 0.01) break;
    await sleep(200);
  }
  assert.ok(st?.packets >= 25 && st.level > 0.01, `no early media in the browser: ${JSON.stringify({ ...st, local: undefined, remote: undefined })}`);
  assert.doesNotMatch(await byId(alice, 'call-status').textContent(), /In call/, 'still ringing');
  carol.respond(inv, 200, 'OK', answer); // same To-tag and SDP as the 183
  await carol.waitRequest('ACK', 10000);
  await expectText(alice, 'call-status', /^In call with sip:carol@ims\.test$/);
  await expectAudioBothWays(alice, carol, 'after early media');
  await byId(alice, 'hangup').click();
  const bye = await carol.waitRequest('BYE', 5000);
  carol.respond(bye, 200, 'OK');
  carol.stopRtp();
  await relay.callsReach(0);
});

test('browser to browser with media-bypass-ws-to-ws: the browsers connect directly, the relay holds no call', async () => {
  await byId(alice, 'dial-input').fill('bob');
  await byId(alice, 'call').click();
  await expectText(bob, 'call-status', /^Incoming call from sip:alice@ims\.test$/);
  await byId(bob, 'answer').click();
  await expectText(alice, 'call-status', /^In call with sip:bob@ims\.test$/);
  const until = Date.now() + 10000;
  let a, b;
  while (Date.now() < until) {
    [a, b] = [await audioStats(alice), await audioStats(bob)];
    if (a?.packets >= 25 && b?.packets >= 25 && a.level > 0.01 && b.level > 0.01) break;
    await sleep(250);
  }
  const what = JSON.stringify({ alice: { ...a, local: undefined, remote: undefined }, bob: { ...b, local: undefined, remote: undefined } });
  assert.ok(a?.packets >= 25 && b?.packets >= 25 && a.level > 0.01 && b.level > 0.01, `audio both ways: ${what}`);
  // Each browser got the other's own offer/answer: no ICE-lite relay in between.
  assert.doesNotMatch(a.remote, /a=ice-lite/);
  assert.doesNotMatch(b.remote, /a=ice-lite/);
  assert.deepEqual(await relay.calls(), [], 'no relay call for a browser-to-browser call');
  await byId(bob, 'hangup').click();
  await expectText(alice, 'call-status', /^Call ended by sip:bob@ims\.test$/);
  assert.deepEqual(await relay.calls(), []);
});
