// Issue 16 around the call: bob's tab hidden → an incoming call raises a notification and rings;
// call waiting (hold-and-answer, reject); message threads with delivery state and unread counts;
// devices and a video call with self-view; the connection in plain words: a malformed message
// is reported, and the core's de-registration by reg-event NOTIFY shows "not registered" (issue
// 11 Must-show). Screenshots: docs/screenshot-{incoming,call-waiting,messages,video,removed}.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sleep } from '../integration/harness.mjs';
import {
  startWicStack, launch, openPage, signIn, byId, expectText, docShot, expectAccessible, stubDeregister, sdpDirections,
} from './wic-helpers.mjs';

let stack, browser, alice, bob, carol;

/** A page whose visibility the test sets (document.hidden as when the tab is in the background)
 * and whose Notification constructor is recorded (the permission itself is granted for real). */
async function watchedPage(name) {
  const page = await openPage(browser, name, { permissions: ['microphone', 'camera', 'notifications'] });
  await page.addInitScript(() => {
    window.__hidden = false;
    // The ringtone: count the oscillators it starts and keep its AudioContext to see it stop.
    window.__oscillators = 0;
    window.__audio = [];
    const NativeAudio = window.AudioContext;
    window.AudioContext = class extends NativeAudio {
      constructor(...a) { super(...a); window.__audio.push(this); }
      createOscillator() { window.__oscillators++; return super.createOscillator(); }
    };
    const NativeWs = window.WebSocket;
    window.__sipSockets = [];
    window.WebSocket = class extends NativeWs {
      constructor(...a) { super(...a); window.__sipSockets.push(this); }
    };
    Object.defineProperty(Document.prototype, 'hidden', { get: () => window.__hidden, configurable: true });
    Object.defineProperty(Document.prototype, 'visibilityState', { get: () => (window.__hidden ? 'hidden' : 'visible'), configurable: true });
    const Native = window.Notification;
    window.__notes = [];
    window.Notification = class extends Native {
      constructor(title, opts) {
        super(title, opts);
        window.__notes.push({ title, body: opts?.body, closed: false });
        const rec = window.__notes.at(-1);
        const close = this.close.bind(this);
        this.close = () => { rec.closed = true; close(); };
      }
    };
  });
  return page;
}

const setHidden = (page, hidden) => page.evaluate((h) => { window.__hidden = h; document.dispatchEvent(new Event('visibilitychange')); }, hidden);

before(async () => {
  stack = await startWicStack({ users: ['alice', 'bob', 'carol'] });
  browser = await launch(['--autoplay-policy=no-user-gesture-required']);
  [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((n) => watchedPage(n)));
  for (const p of [alice, bob, carol]) await signIn(p, stack, p.testName, stack.passwords[p.testName]);
});

after(async () => {
  await browser?.close();
  if (process.env.IMSGW_BROWSER_DEBUG) console.log(stack.gateway.log, [alice, bob, carol].map((p) => p?.log.join('\n')).join('\n'));
  const exits = await stack?.stop();
  if (exits) for (const [name, r] of Object.entries(exits)) assert.deepEqual(r, { code: 0, sig: null }, `${name} exit`);
});

test('bob\'s tab is hidden: an incoming call raises a notification and rings; answering stops both', async () => {
  await setHidden(bob, true);
  await byId(alice, 'dial-input').fill('bob');
  await byId(alice, 'call').click();
  await expectText(bob, 'call-status', /^Incoming call from sip:alice@ims\.test$/);
  const notes = await bob.evaluate(() => window.__notes);
  assert.deepEqual(notes, [{ title: 'Incoming call', body: 'sip:alice@ims.test is calling', closed: false }]);
  assert.equal(await bob.evaluate(() => document.body.dataset.ringing), 'true');
  const ring = await bob.evaluate(() => ({ n: window.__oscillators, state: window.__audio[0]?.state }));
  assert.ok(ring.n >= 4 && ring.state === 'running', `the ringtone plays (two bursts of two tones): ${JSON.stringify(ring)}`);
  assert.equal(await bob.evaluate(() => Notification.permission), 'granted');
  await setHidden(bob, false);
  await expectAccessible(bob, 'incoming call');
  await docShot(bob, 'incoming');
  await byId(bob, 'answer').click();
  await expectText(bob, 'call-status', /^In call with sip:alice@ims\.test$/);
  assert.equal((await bob.evaluate(() => window.__notes))[0].closed, true, 'the notification is closed');
  assert.equal(await bob.evaluate(() => document.body.dataset.ringing), undefined);
  await bob.waitForFunction(() => window.__audio[0].state === 'suspended', null, { timeout: 2000 });
  // A visible tab gets no notification (the page itself shows the call).
  assert.equal((await alice.evaluate(() => window.__notes)).length, 0);
});

test('call waiting: carol calls bob during the call; bob holds alice and answers, switches back, and hangs up', async () => {
  await byId(carol, 'dial-input').fill('bob');
  await byId(carol, 'call').click();
  await expectText(bob, 'waiting-text', /^Call waiting: sip:carol@ims\.test is calling$/);
  await expectText(bob, 'call-status', /^In call with sip:alice@ims\.test$/); // the first call stays on screen
  assert.equal(await bob.evaluate(() => document.activeElement.dataset.testid), 'cw-answer');
  await expectAccessible(bob, 'call waiting');
  await docShot(bob, 'call-waiting');
  await byId(bob, 'cw-answer').click();
  await expectText(bob, 'call-status', /^In call with sip:carol@ims\.test$/);
  await expectText(bob, 'other-text', /^On hold: sip:alice@ims\.test$/);
  await expectText(alice, 'call-status', /^sip:bob@ims\.test put you on hold$/);
  await expectText(carol, 'call-status', /^In call with sip:bob@ims\.test$/);
  // Switch: carol is held, alice resumed.
  await byId(bob, 'swap').click();
  await expectText(bob, 'call-status', /^In call with sip:alice@ims\.test$/);
  await expectText(bob, 'other-text', /^On hold: sip:carol@ims\.test$/);
  await expectText(alice, 'call-status', /^In call with sip:bob@ims\.test$/);
  await expectText(carol, 'call-status', /^sip:bob@ims\.test put you on hold$/);
  await byId(bob, 'other-hangup').click();
  await expectText(carol, 'call-status', /^Call ended by sip:bob@ims\.test$/);
  assert.equal(await byId(bob, 'other-text').isVisible(), false);
  await expectText(bob, 'call-status', /^In call with sip:alice@ims\.test$/);
});

test('call waiting: reject leaves the first call as it was; the caller is told it was declined', async () => {
  await byId(carol, 'dial-input').fill('bob');
  await byId(carol, 'call').click();
  await expectText(bob, 'waiting-text', /carol/);
  await byId(bob, 'cw-reject').click();
  await expectText(carol, 'call-status', /^sip:bob@ims\.test declined the call\.$/);
  assert.equal(await byId(bob, 'waiting-text').isVisible(), false);
  await expectText(bob, 'call-status', /^In call with sip:alice@ims\.test$/);
  await byId(bob, 'hangup').click();
  await expectText(alice, 'call-status', /^Call ended by sip:bob@ims\.test$/);
  const rows = await byId(bob, 'history').locator('li').evaluateAll((ls) => ls.map((l) => l.dataset.outcome));
  // Newest first: alice's call (ended last), carol's rejected call, carol's earlier call.
  assert.deepEqual(rows.slice(0, 3), ['in:answered', 'in:rejected', 'in:answered']);
});

test('message threads: delivery state, unread counts per peer, failure shown', async () => {
  await setHidden(bob, true); // bob is elsewhere: messages count as unread
  for (const [from, text] of [[alice, 'one'], [alice, 'two'], [carol, 'three']]) {
    await byId(from, 'msg-to').fill('bob');
    await byId(from, 'msg-input').fill(text);
    await byId(from, 'msg-send').click();
    await expectText(from, byId(from, 'msg-log').locator('li').last(), new RegExp(`to sip:bob@ims\\.test: ${text} \\(delivered\\)$`));
  }
  await expectText(bob, 'unread-total', /^3 unread$/);
  assert.equal(await bob.title(), '(3) imsgw web phone');
  await expectText(bob, byId(bob, 'threads').locator('[data-peer="sip:alice@ims.test"]'), /^sip:alice@ims\.test \(2 unread\)$/);
  await expectText(bob, byId(bob, 'threads').locator('[data-peer="sip:carol@ims.test"]'), /\(1 unread\)$/);
  await setHidden(bob, false);
  await byId(bob, 'threads').locator('[data-peer="sip:alice@ims.test"]').click();
  await expectText(bob, 'unread-total', /^1 unread$/);
  const shown = await byId(bob, 'msg-log').locator('li').allTextContents();
  assert.equal(shown.length, 2, shown.join('\n'));
  assert.ok(shown.every((t) => t.includes('from sip:alice@ims.test')));
  assert.equal(await byId(bob, 'msg-to').inputValue(), 'sip:alice@ims.test', 'replying goes to the thread\'s peer');
  await byId(bob, 'msg-input').fill('hi alice');
  await byId(bob, 'msg-input').press('Enter');
  await expectText(bob, byId(bob, 'msg-log').locator('li').last(), /to sip:alice@ims\.test: hi alice \(delivered\)$/);
  // Failure: dave does not exist; the thread shows it and the page says why.
  await byId(bob, 'msg-to').fill('dave');
  await byId(bob, 'msg-input').fill('anyone?');
  await byId(bob, 'msg-send').click();
  await expectText(bob, byId(bob, 'msg-log').locator('li.failed').last(), /anyone\? \(not delivered\)$/);
  await expectText(bob, bob.getByRole('alert'), /The message to sip:dave@ims\.test was not delivered/);
  await byId(bob, 'threads').locator('[data-peer="sip:alice@ims.test"]').click();
  await expectAccessible(bob, 'messages');
  await byId(bob, 'msg-log').scrollIntoViewIfNeeded();
  await docShot(bob, 'messages');
});

test('devices are listed; a video call shows the self-view and the remote video', async () => {
  const mics = await byId(alice, 'mic-select').locator('option').count();
  assert.ok(mics >= 2, 'Default plus the fake microphone');
  const cams = await byId(alice, 'camera-select').locator('option').allTextContents();
  assert.ok(cams.length >= 2, `cameras: ${cams}`);
  await byId(alice, 'mic-select').selectOption({ index: 1 });
  assert.match(await alice.evaluate(() => localStorage.getItem('imsgw.devices')), /audioinput/);
  await byId(alice, 'video-toggle').check();
  await byId(bob, 'video-toggle').check();
  await byId(alice, 'dial-input').fill('bob');
  await byId(alice, 'call').click();
  await expectText(bob, 'call-status', /^Incoming call from sip:alice@ims\.test$/);
  await byId(bob, 'answer').click();
  await expectText(alice, 'call-status', /^In call with sip:bob@ims\.test$/);
  assert.deepEqual((await sdpDirections(alice)).remote, ['audio:sendrecv', 'video:sendrecv']);
  for (const p of [alice, bob]) {
    await p.waitForFunction(() => {
      const s = document.getElementById('self-view');
      const r = document.getElementById('remote-video');
      return s.videoWidth > 0 && r.videoWidth > 0;
    }, null, { timeout: 10000 });
  }
  // The call used the chosen microphone.
  const used = await alice.evaluate(() => window.__pcs.at(-1).getSenders().find((s) => s.track?.kind === 'audio').track.getSettings().deviceId);
  assert.equal(used, await byId(alice, 'mic-select').inputValue());
  await expectAccessible(alice, 'video call');
  await docShot(alice, 'video');
  await byId(alice, 'hangup').click();
  await expectText(bob, 'call-status', /^Call ended by sip:alice@ims\.test$/);
  assert.equal(await byId(alice, 'remote-video').isVisible(), false);
  await byId(alice, 'video-toggle').uncheck();
  await byId(bob, 'video-toggle').uncheck();
});

test('a message the SIP library cannot parse is reported, not dropped silently', async () => {
  // The socket JsSIP reads: a frame with a broken start line arrives on it.
  await carol.evaluate(() => {
    const sock = window.__sipSockets.at(-1);
    sock.dispatchEvent(new MessageEvent('message', { data: 'SIP/2.0 20 OK\r\nVia: nonsense\r\n\r\n' }));
  });
  await expectText(carol, carol.getByRole('alert'), /^The network sent a message this phone could not read \(\d+ bytes\); it was ignored\.$/);
  await expectText(carol, 'reg-status', /^Registered$/);
});

test('the network goes away and comes back: the page says so in plain words and registers again', async () => {
  // The connection drops: a countdown to the next attempt (RFC 5626 back-off, base 2 s here).
  await alice.evaluate(() => window.__sipSockets.at(-1).close());
  await expectText(alice, 'reg-status', /^Connection lost; reconnecting in [12] s…$/);
  await expectText(alice, 'reg-status', /^Registered$/);
  await alice.context().setOffline(true);
  await expectText(alice, 'reg-status', /^Network lost; reconnecting when it is back$/);
  await expectAccessible(alice, 'network lost');
  await docShot(alice, 'network-lost');
  await alice.context().setOffline(false);
  await expectText(alice, 'reg-status', /^Registered$/);
  await byId(bob, 'msg-to').fill('alice');
  await byId(bob, 'msg-input').fill('back online?');
  await byId(bob, 'msg-send').click();
  await expectText(alice, 'msg-log', /from sip:bob@ims\.test: back online\?/);
});

test('the core de-registers carol by reg-event NOTIFY: her page says the network removed the registration', async () => {
  const answer = await stubDeregister(stack.stubPort, 'sip:carol@ims.test');
  assert.match(answer, /^SIP\/2\.0 200/);
  await expectText(carol, 'reg-status', /^Not registered: the network removed your registration$/);
  await expectText(carol, carol.getByRole('alert'), /The network ended your registration/);
  // It stays so (no automatic re-registration that would hide it).
  await sleep(3000);
  await expectText(carol, 'reg-status', /^Not registered: the network removed your registration$/);
  await expectAccessible(carol, 'registration removed');
  await docShot(carol, 'removed');
  // alice cannot reach her now.
  await byId(alice, 'dial-input').fill('carol');
  await byId(alice, 'call').click();
  await expectText(alice, 'call-status', /sip:carol@ims\.test is not reachable/);
});
