// Issue 16, Must show: alice calls bob, mutes (bob's received audio energy stops rising), holds and
// resumes (the SDP directions of both connections), sends tones (SIP INFO: bob's page shows the
// digits it received; RFC 4733: alice's RTCDTMFSender plays them into the negotiated
// telephone-event stream), transfers bob to carol (carol's phone rings with bob, REFER/NOTIFY
// through the gateway and the IMS stub), hangs up; each history shows the calls.
// Screenshots: docs/screenshot-call.png, -in-call.png, -on-hold.png, -transfer.png, -history.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sleep } from '../integration/harness.mjs';
import {
  startWicStack, launch, openPage, signIn, byId, expectText, docShot, expectAccessible, writeToneWav,
  inboundAudio, sdpDirections,
} from './wic-helpers.mjs';

let stack, browser, alice, bob, carol, wavDir;

before(async () => {
  wavDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imsgw-tone-'));
  writeToneWav(path.join(wavDir, 'tone.wav'));
  stack = await startWicStack({ users: ['alice', 'bob', 'carol'] });
  browser = await launch([`--use-file-for-fake-audio-capture=${path.join(wavDir, 'tone.wav')}`, '--autoplay-policy=no-user-gesture-required']);
  [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((n) => openPage(browser, n)));
  for (const p of [alice, bob, carol]) await signIn(p, stack, p.testName, stack.passwords[p.testName]);
});

after(async () => {
  await browser?.close();
  if (process.env.IMSGW_BROWSER_DEBUG) console.log(stack.gateway.log, stack.stub.log, [alice, bob, carol].map((p) => p?.log.join('\n')).join('\n'));
  fs.rmSync(wavDir, { recursive: true, force: true });
  const exits = await stack?.stop();
  if (exits) for (const [name, r] of Object.entries(exits)) assert.deepEqual(r, { code: 0, sig: null }, `${name} exit`);
});

/** Energy bob received during `ms` (totalAudioEnergy is cumulative: the rise is what arrived). */
async function energyOver(page, ms) {
  const a = await inboundAudio(page);
  await sleep(ms);
  const b = await inboundAudio(page);
  return { energy: b.energy - a.energy, level: b.level, packets: b.packets - a.packets };
}

async function until(what, fn, ms = 8000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last.ok) return last;
    await sleep(200);
  }
  throw new Error(`${what}: ${JSON.stringify(last)}`);
}

test('alice calls bob; mute silences what bob hears, unmute brings it back', async () => {
  await byId(alice, 'dial-input').fill('bob');
  await byId(alice, 'call').click();
  await expectText(bob, 'call-status', /^Incoming call from sip:alice@ims\.test$/);
  await byId(bob, 'answer').click();
  await expectText(alice, 'call-status', /^In call with sip:bob@ims\.test$/);
  await expectText(bob, 'call-status', /^In call with sip:alice@ims\.test$/);
  const talking = await until('bob hears the tone', async () => {
    const r = await energyOver(bob, 1000);
    return { ...r, ok: r.packets > 20 && r.energy > 0.0005 && r.level > 0.01 };
  });
  await docShot(alice, 'call'); // README's picture
  await byId(alice, 'mute').click();
  assert.equal(await byId(alice, 'mute').getAttribute('aria-pressed'), 'true');
  assert.equal(await byId(alice, 'mute').textContent(), 'Unmute');
  // Packets keep coming (the call is up) but carry silence.
  const muted = await until('bob hears silence', async () => {
    const r = await energyOver(bob, 1000);
    return { ...r, ok: r.packets > 20 && r.energy < 1e-4 && r.level < 0.001 };
  });
  assert.ok(muted.energy < talking.energy / 10, `energy while muted ${muted.energy} (talking ${talking.energy})`);
  await byId(alice, 'mute').click();
  assert.equal(await byId(alice, 'mute').getAttribute('aria-pressed'), 'false');
  await until('bob hears the tone again', async () => {
    const r = await energyOver(bob, 1000);
    return { ...r, ok: r.energy > 0.0005 && r.level > 0.01 };
  });
});

/** Waits (bounded) until the page's SDP directions are `want`. */
const directions = (what, page, want) => until(`${page.testName} ${what}`, async () => {
  const d = await sdpDirections(page);
  return { ...d, ok: JSON.stringify(d) === JSON.stringify(want) };
}, 5000);

test('hold and resume: re-INVITE with sendonly, answered recvonly; then sendrecv again', async () => {
  const sdp = await alice.evaluate(() => window.__pcs.at(-1).remoteDescription?.sdp);
  assert.deepEqual(await sdpDirections(alice), { local: ['audio:sendrecv'], remote: ['audio:sendrecv'] }, sdp);
  await byId(alice, 'hold').click();
  await expectText(alice, 'call-status', /^On hold: sip:bob@ims\.test/);
  await expectText(bob, 'call-status', /^sip:alice@ims\.test put you on hold$/);
  // What went over SIP: bob's remote description is alice's re-INVITE offer, his local one the
  // answer. (JsSIP rewrites the direction in the offer it sends; alice's own localDescription
  // keeps sendrecv, so it is not what to look at.)
  // (JsSIP reports hold when it sends the re-INVITE: the answer may still be on its way.)
  await directions('on hold', bob, { local: ['audio:recvonly'], remote: ['audio:sendonly'] });
  await directions('on hold', alice, { local: ['audio:sendrecv'], remote: ['audio:recvonly'] });
  assert.equal(await byId(alice, 'hold').textContent(), 'Resume');
  await expectAccessible(alice, 'on hold');
  await docShot(alice, 'on-hold');
  // bob's phone holds back its 200 to the resume re-INVITE for 1.5 s: until it arrives alice's
  // phone says "Resuming…", not "In call with" (JsSIP reports unhold as it sends the offer).
  await bob.evaluate(() => {
    const send = WebSocket.prototype.send;
    let until = 0; // the first answer and its retransmissions go at once, 1.5 s after the first
    WebSocket.prototype.send = function delayed(data) {
      if (typeof data === 'string' && /^SIP\/2\.0 200 /.test(data) && /^CSeq: *\d+ INVITE\r?$/im.test(data)) {
        until ||= Date.now() + 1500;
        setTimeout(() => send.call(this, data), Math.max(0, until - Date.now()));
        setTimeout(() => { WebSocket.prototype.send = send; }, Math.max(0, until - Date.now()) + 10);
        return;
      }
      send.call(this, data);
    };
  });
  await byId(alice, 'hold').click();
  await expectText(alice, 'call-status', /^Resuming the call with sip:bob@ims\.test…$/);
  await expectText(bob, 'call-status', /^In call with sip:alice@ims\.test$/); // bob has the offer
  await sleep(800);
  assert.match(await byId(alice, 'call-status').textContent(), /^Resuming/, 'no answer yet: still resuming');
  await expectText(alice, 'call-status', /^In call with sip:bob@ims\.test$/);
  await directions('resumed', alice, { local: ['audio:sendrecv'], remote: ['audio:sendrecv'] });
  await directions('resumed', bob, { local: ['audio:sendrecv'], remote: ['audio:sendrecv'] });
});

test('keypad: SIP INFO tones are shown by bob; RFC 4733 tones go into the audio stream', async () => {
  await byId(alice, 'keypad-toggle').click();
  await byId(alice, 'dtmf-mode').selectOption('info');
  for (const t of '19#') await byId(alice, `key-${t}`).click();
  // bob's JsSIP hands each INFO (application/dtmf-relay) to the page: the far end has the digits.
  await expectText(bob, 'dtmf-received', /^Tones received from sip:alice@ims\.test: 19#$/);
  assert.equal(await byId(alice, 'dtmf-sent').getAttribute('data-via'), 'info');
  // RFC 4733: both sides negotiated telephone-event; alice's sender plays each digit into the
  // RTP stream (tonechange fires as each one is sent). Chromium cannot report received RFC 4733
  // events, so the far-end check of this path is media.test.mjs (an IMS UA decodes them).
  const sdp = await bob.evaluate(() => window.__pcs.at(-1).remoteDescription.sdp);
  assert.match(sdp, /a=rtpmap:\d+ telephone-event\//);
  await alice.evaluate(() => {
    const s = window.__pcs.at(-1).getSenders().find((x) => x.track?.kind === 'audio');
    window.__tones = [];
    s.dtmf.addEventListener('tonechange', (e) => { if (e.tone) window.__tones.push(e.tone); });
  });
  await byId(alice, 'dtmf-mode').selectOption('rfc4733');
  for (const t of '42*') await byId(alice, `key-${t}`).click();
  await until('the tones are played', async () => {
    const tones = await alice.evaluate(() => window.__tones.join(''));
    return { tones, ok: tones === '42*' };
  });
  assert.equal(await byId(alice, 'dtmf-sent').getAttribute('data-via'), 'rfc4733');
  await expectText(alice, 'dtmf-sent', /^19#42\*$/);
  // No INFO for them: bob still shows only the INFO digits.
  await sleep(500);
  await expectText(bob, 'dtmf-received', /: 19#$/);
  await expectAccessible(alice, 'in call with keypad');
  await docShot(alice, 'in-call');
});

test('blind transfer: bob is sent to carol, carol\'s phone rings with bob, alice\'s leg ends', async () => {
  await byId(alice, 'transfer-toggle').click();
  await byId(alice, 'transfer-input').fill('carol');
  await docShot(alice, 'transfer');
  await byId(alice, 'transfer').click();
  await expectText(carol, 'call-status', /^Incoming call from sip:bob@ims\.test$/);
  await expectAccessible(carol, 'incoming call');
  await byId(carol, 'answer').click();
  await expectText(alice, 'call-status', /^sip:bob@ims\.test was transferred to sip:carol@ims\.test\.$/);
  await expectText(bob, 'call-status', /^In call with sip:carol@ims\.test$/);
  await expectText(carol, 'call-status', /^In call with sip:bob@ims\.test$/);
  await until('carol hears bob', async () => {
    const r = await energyOver(carol, 1000);
    return { ...r, ok: r.packets > 20 && r.energy > 0.0005 && r.level > 0.01 };
  });
  await sleep(1100); // a talk time of at least a second in the history
  await byId(carol, 'hangup').click();
  await expectText(bob, 'call-status', /^Call ended by sip:carol@ims\.test$/);
  await expectText(carol, 'call-status', /^Call ended$/);
});

test('each history shows the calls', async () => {
  const rows = async (p) => byId(p, 'history').locator('li').evaluateAll((ls) => ls.map((l) => `${l.dataset.outcome} ${l.textContent}`));
  const a = await rows(alice);
  const b = await rows(bob);
  const c = await rows(carol);
  assert.match(a[0], /^out:answered Outgoing call to sip:bob@ims\.test, \d+ s/, a.join('\n'));
  assert.match(b[0], /^out:answered Outgoing call to sip:carol@ims\.test, [1-9]\d* s/, b.join('\n'));
  assert.match(b[1], /^in:answered Incoming call from sip:alice@ims\.test, \d+ s/, b.join('\n'));
  assert.match(c[0], /^in:answered Incoming call from sip:bob@ims\.test, [1-9]\d* s/, c.join('\n'));
  // Recent contacts follow: carol first for bob, then alice.
  const contacts = await byId(bob, 'contacts').locator('li span').allTextContents();
  assert.deepEqual(contacts.slice(0, 2), ['sip:carol@ims.test', 'sip:alice@ims.test']);
  await expectAccessible(bob, 'history');
  await byId(bob, 'history').scrollIntoViewIfNeeded();
  await docShot(bob, 'history');
  // It survives a reload (localStorage per identity), without tokens in it.
  const stored = await bob.evaluate(() => JSON.stringify({ ...localStorage }));
  assert.match(stored, /imsgw\.history\.sip:bob@ims\.test/);
  assert.doesNotMatch(stored, /eyJ/);
});

test('a missed call is in the history as missed', async () => {
  await byId(alice, 'dial-input').fill('carol');
  await byId(alice, 'call').click();
  await expectText(carol, 'call-status', /^Incoming call from sip:alice@ims\.test$/);
  await byId(alice, 'hangup').click();
  await expectText(carol, 'call-status', /^Missed call from sip:alice@ims\.test$/);
  await expectText(carol, byId(carol, 'history').locator('li').first(), /^Missed call from sip:alice@ims\.test/);
  assert.equal(await byId(carol, 'history').locator('li').first().getAttribute('data-outcome'), 'in:missed');
  await expectText(alice, byId(alice, 'history').locator('li').first(), /^Outgoing call to sip:carol@ims\.test, not answered/);
});
