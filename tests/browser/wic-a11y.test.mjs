// Issue 16, Must show: a keyboard-only walkthrough (sign in, call, answer, mute, keypad, message,
// sign out: Tab, Shift+Tab, Enter, Space and typing, never a click), every focused control with a
// visible focus ring, and axe-core with no serious or critical violation on each screen.
// Screenshots: docs/screenshot-signed-out.png, -sign-in.png, -registered.png, -keyboard-call.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWicStack, launch, openPage, byId, expectText, docShot, expectAccessible } from './wic-helpers.mjs';

let stack, browser, alice, bob;

before(async () => {
  stack = await startWicStack();
  browser = await launch(['--autoplay-policy=no-user-gesture-required']);
  alice = await openPage(browser, 'alice');
  bob = await openPage(browser, 'bob');
});

after(async () => {
  await browser?.close();
  if (process.env.IMSGW_BROWSER_DEBUG) console.log(alice.log.join('\n'), bob.log.join('\n'));
  const exits = await stack?.stop();
  if (exits) for (const [name, r] of Object.entries(exits)) assert.deepEqual(r, { code: 0, sig: null }, `${name} exit`);
});

/** What has the focus: its test id, or name/id, and whether a focus ring is drawn around it. */
const focused = (page) => page.evaluate(() => {
  const a = document.activeElement;
  const st = getComputedStyle(a);
  return {
    id: a.dataset.testid || a.name || a.id || a.tagName,
    ring: st.outlineStyle !== 'none' && parseFloat(st.outlineWidth) >= 2,
    value: a.value,
  };
});

/** Presses Tab (forwards) until `target` has the focus; every stop must show the focus ring. */
async function tabTo(page, target, { max = 60, back = false } = {}) {
  const seen = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
    const f = await focused(page);
    seen.push(f.id);
    if (f.id !== 'BODY') assert.ok(f.ring, `${page.testName}: no visible focus on ${f.id}`);
    if (f.id === target) return;
  }
  throw new Error(`${page.testName}: ${target} not reached by keyboard; focus went ${seen.join(' → ')}`);
}

async function signInByKeyboard(page, user) {
  await page.goto(`${stack.httpUrl}/`);
  await expectText(page, 'reg-status', /^Signed out$/);
  await page.waitForFunction(() => !document.getElementById('login').disabled);
  await tabTo(page, 'login');
  await page.keyboard.press('Enter');
  await page.waitForURL(`${stack.issuer}/**`);
  await tabTo(page, 'username');
  await page.keyboard.type(user);
  await tabTo(page, 'password');
  await page.keyboard.type(stack.passwords[user]);
  await page.keyboard.press('Enter'); // the form's first button: Allow
  await expectText(page, 'reg-status', /^Registered$/);
}

test('every screen passes axe: signed out and the sign-in form', async () => {
  await alice.goto(`${stack.httpUrl}/`);
  await expectText(alice, 'reg-status', /^Signed out$/);
  await expectAccessible(alice, 'signed out');
  await docShot(alice, 'signed-out');
  await byId(alice, 'login').focus();
  await alice.keyboard.press('Enter');
  await alice.waitForURL(`${stack.issuer}/**`);
  await expectAccessible(alice, 'sign-in form');
  await docShot(alice, 'sign-in');
});

test('keyboard only: alice and bob sign in, alice calls, bob answers, mute, tones, hang up', async () => {
  await signInByKeyboard(alice, 'alice');
  await signInByKeyboard(bob, 'bob');
  await expectAccessible(alice, 'registered');
  await docShot(alice, 'registered');
  await tabTo(alice, 'dial-input');
  await alice.keyboard.type('bob');
  await alice.keyboard.press('Enter');
  await expectText(bob, 'call-status', /^Incoming call from sip:alice@ims\.test$/);
  // The page moves the focus to Answer: one key answers.
  assert.equal((await focused(bob)).id, 'answer');
  await bob.keyboard.press('Enter');
  await expectText(alice, 'call-status', /^In call with sip:bob@ims\.test$/);
  await expectText(bob, 'call-status', /^In call with sip:alice@ims\.test$/);
  assert.equal((await focused(alice)).id, 'hangup', 'focus moves to Hang up when the call is up');
  // Mute with Space (a toggle button), the keypad with Enter.
  await tabTo(alice, 'mute');
  await alice.keyboard.press('Space');
  assert.equal(await byId(alice, 'mute').getAttribute('aria-pressed'), 'true');
  await alice.keyboard.press('Space');
  assert.equal(await byId(alice, 'mute').getAttribute('aria-pressed'), 'false');
  await tabTo(alice, 'keypad-toggle');
  await alice.keyboard.press('Enter');
  assert.equal(await byId(alice, 'keypad-toggle').getAttribute('aria-expanded'), 'true');
  assert.equal((await focused(alice)).id, 'key-1', 'opening the keypad focuses its first key');
  await alice.keyboard.press('Enter');
  await tabTo(alice, 'key-5');
  await alice.keyboard.press('Enter');
  await alice.keyboard.press('9'); // the keyboard's own digit keys work in the keypad
  await alice.keyboard.press('#');
  await expectText(alice, 'dtmf-sent', /^159#$/);
  await expectAccessible(alice, 'in call (keyboard)');
  await expectAccessible(bob, 'in call (keyboard)');
  await docShot(bob, 'keyboard-call');
  await tabTo(alice, 'hangup', { back: true });
  await alice.keyboard.press('Enter');
  await expectText(bob, 'call-status', /^Call ended by sip:alice@ims\.test$/);
});

test('keyboard only: a message both ways, the thread opened, sign out', async () => {
  await tabTo(alice, 'msg-to');
  await alice.keyboard.type('bob');
  await alice.keyboard.press('Tab');
  assert.equal((await focused(alice)).id, 'msg-input');
  await alice.keyboard.type('typed without a mouse');
  await alice.keyboard.press('Enter');
  await expectText(bob, 'msg-log', /from sip:alice@ims\.test: typed without a mouse/);
  await expectText(alice, 'msg-log', /to sip:bob@ims\.test: typed without a mouse \(delivered\)/);
  // The call and message events reach screen readers through the live region.
  await expectText(bob, 'announce', /^Message from sip:alice@ims\.test: typed without a mouse$/);
  // bob opens alice's thread by keyboard and replies: the recipient is filled in.
  await bob.locator('body').focus();
  await tabTo(bob, 'threads-sip:alice@ims.test');
  await bob.keyboard.press('Enter');
  assert.equal(await byId(bob, 'msg-to').inputValue(), 'sip:alice@ims.test');
  await tabTo(bob, 'msg-input');
  await bob.keyboard.type('got it');
  await bob.keyboard.press('Enter');
  await expectText(alice, 'msg-log', /from sip:bob@ims\.test: got it/);
  await expectAccessible(bob, 'messages (keyboard)');
  await tabTo(alice, 'logout');
  await alice.keyboard.press('Enter');
  await expectText(alice, 'reg-status', /^Signed out$/);
  assert.equal((await focused(alice)).id, 'login', 'focus returns to Sign in');
  await expectAccessible(alice, 'signed out after sign-out');
});
