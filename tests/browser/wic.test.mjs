// The web client in Debian's Chromium against the real daemons: sign-in through the WAF form,
// registration, a call with audio both ways, messages, token renewal with a 60 s token, recovery
// after a gateway restart, sign-out. Screenshots of each step: tests/artifacts/wic-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stubRegisterCount, sleep } from '../integration/harness.mjs';
import { startWicStack, launch, openPage, signIn, byId, shot, expectText, audioBothWays } from './wic-helpers.mjs';

const TOKEN_LIFETIME = 60; // the WAF's minimum: the page renews at half-life, after 30 s
let stack;
let browser;
let alice;
let bob;
let signedInAt;

before(async () => {
  stack = await startWicStack({
    wafArgs: ['--token-lifetime', String(TOKEN_LIFETIME)],
    // A 60 s token bounds every registration to < 60 s: the gateway and the IMS must accept 30 s.
    gatewayArgs: ['--min-expires', '30'],
    stubArgs: ['--min-expires', '30'],
  });
  browser = await launch();
  alice = await openPage(browser, 'alice');
  bob = await openPage(browser, 'bob');
});

after(async () => {
  await browser?.close();
  if (process.env.IMSGW_BROWSER_DEBUG) console.log(stack.gateway.log, stack.stub.log, stack.waf.log, alice.log.join('\n'));
  const exits = await stack?.stop();
  if (exits) for (const [name, r] of Object.entries(exits)) assert.deepEqual(r, { code: 0, sig: null }, `${name} exit`);
});

test('a wrong password is refused on the sign-in page, the right one signs in and registers', async () => {
  await alice.goto(`${stack.httpUrl}/`);
  await expectText(alice, 'reg-status', /^Signed out$/);
  await shot(alice, 'wic-01-signed-out');
  await byId(alice, 'login').click();
  await alice.waitForURL(`${stack.issuer}/**`);
  await alice.fill('input[name="username"]', 'alice');
  await alice.fill('input[name="password"]', 'not-the-password');
  await alice.click('button[value="allow"]');
  await alice.getByRole('alert').filter({ hasText: /password|sign.?in/i }).waitFor({ timeout: 10000 });
  assert.ok(alice.url().startsWith(stack.issuer), 'still on the sign-in page');
  await shot(alice, 'wic-02-wrong-password');
  await alice.fill('input[name="username"]', 'alice');
  await alice.fill('input[name="password"]', stack.passwords.alice);
  await alice.click('button[value="allow"]');
  await expectText(alice, 'reg-status', /^Registered$/);
  signedInAt = Date.now();
  assert.equal(await byId(alice, 'identity').textContent(), 'sip:alice@ims.test');
  // Nothing of the OAuth answer stays in the address bar; no token in any storage.
  assert.equal(alice.url(), `${stack.httpUrl}/`);
  const stored = await alice.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  assert.doesNotMatch(stored, /eyJ|refresh|verifier/, 'only the SIP instance id is stored');
  assert.match(stored, /imsgw\.sip\.instance/);
  assert.deepEqual(alice.grants, ['authorization_code']);
  await shot(alice, 'wic-03-registered');

  await signIn(bob, stack, 'bob', stack.passwords.bob);
  assert.equal(await byId(bob, 'identity').textContent(), 'sip:bob@ims.test');
});

test('alice calls bob, bob answers, audio flows both ways, alice hangs up', async () => {
  await byId(alice, 'dial-input').fill('bob');
  await byId(alice, 'call').click();
  await expectText(bob, 'call-status', /^Incoming call from sip:alice@ims\.test$/);
  await shot(bob, 'wic-04-incoming');
  await byId(bob, 'answer').click();
  await expectText(alice, 'call-status', /^In call with sip:bob@ims\.test$/);
  await expectText(bob, 'call-status', /^In call with sip:alice@ims\.test$/);
  // The fake microphone's tone reaches the other browser: packets counted on both sides.
  const [a, b] = await audioBothWays(alice, bob);
  assert.ok(a > 0 && b > 0, `inbound audio packets alice=${a} bob=${b}`);
  await expectText(alice, alice.locator('#call-timer'), /^00:0[1-9]$/);
  await shot(alice, 'wic-05-call-alice');
  await shot(bob, 'wic-05-call-bob');
  await byId(alice, 'hangup').click();
  await expectText(bob, 'call-status', /^Call ended by sip:alice@ims\.test$/);
  await expectText(alice, 'call-status', /^Call ended$/);
  assert.equal(await byId(bob, 'hangup').isVisible(), false);
  await shot(bob, 'wic-06-ended-bob');
});

test('bob rejects a call and alice is told in plain words', async () => {
  await byId(alice, 'dial-input').fill('sip:bob@ims.test');
  await byId(alice, 'call').click();
  await expectText(bob, 'call-status', /^Incoming call/);
  await byId(bob, 'reject').click();
  await expectText(alice, 'call-status', /^sip:bob@ims\.test declined the call\.$/);
  await expectText(bob, 'call-status', /^Call rejected$/);
});

test('calling a user who is not signed in says so', async () => {
  await byId(alice, 'dial-input').fill('carol');
  await byId(alice, 'call').click();
  await expectText(alice, 'call-status', /sip:carol@ims\.test is not reachable/);
});

test('messages both ways appear in both logs', async () => {
  await byId(alice, 'msg-to').fill('bob');
  await byId(alice, 'msg-input').fill('hello bob <b>not bold</b>');
  await byId(alice, 'msg-send').click();
  await expectText(bob, 'msg-log', /from sip:alice@ims\.test: hello bob <b>not bold<\/b>/);
  await expectText(alice, 'msg-log', /to sip:bob@ims\.test: hello bob/);
  assert.equal(await byId(bob, 'msg-log').locator('b').count(), 0, 'message text is not HTML');
  await byId(bob, 'msg-to').fill('sip:alice@ims.test');
  await byId(bob, 'msg-input').fill('hi alice');
  await byId(bob, 'msg-input').press('Enter'); // the keyboard sends too
  await expectText(alice, 'msg-log', /from sip:bob@ims\.test: hi alice/);
  await shot(alice, 'wic-07-messages');
});

test('with a 60 s token the page renews it and re-registers on its own', async () => {
  const regsBefore = stubRegisterCount(stack);
  // Renewal is due 30 s after sign-in; allow 15 s of slack.
  const until = signedInAt + 45000;
  while (!alice.grants.includes('refresh_token') && Date.now() < until) await sleep(250);
  assert.ok(alice.grants.includes('refresh_token'), `grants: ${alice.grants}`);
  const waitRegs = Date.now() + 5000;
  while (stubRegisterCount(stack) <= regsBefore && Date.now() < waitRegs) await sleep(100);
  assert.ok(stubRegisterCount(stack) > regsBefore, 're-REGISTER reached the IMS');
  await expectText(alice, 'reg-status', /^Registered$/);
  // Past the first token's expiry, alice is still reachable: her binding carries the new token.
  await sleep(Math.max(0, signedInAt + TOKEN_LIFETIME * 1000 + 2000 - Date.now()));
  await expectText(alice, 'reg-status', /^Registered$/);
  await byId(bob, 'msg-input').fill('still there?');
  await byId(bob, 'msg-send').click();
  await expectText(alice, 'msg-log', /from sip:bob@ims\.test: still there\?/);
  assert.equal(await alice.getByRole('alert').isVisible(), false, 'no error shown');
  await shot(alice, 'wic-08-renewed');
});

test('after a gateway restart both pages reconnect and re-register', async () => {
  const exit = await stack.restartGateway();
  assert.deepEqual(exit, { code: 0, sig: null });
  await expectText(alice, 'reg-status', /reconnecting|Connecting|Registering|^Registered$/);
  await expectText(alice, 'reg-status', /^Registered$/, 15000);
  await expectText(bob, 'reg-status', /^Registered$/, 15000);
  await shot(alice, 'wic-09-reconnected');
  await byId(alice, 'msg-input').fill('back again');
  await byId(alice, 'msg-send').click();
  await expectText(bob, 'msg-log', /from sip:alice@ims\.test: back again/);
});

test('sign-out de-registers and revokes the refresh token', async () => {
  const regsBefore = stubRegisterCount(stack);
  await byId(alice, 'logout').click();
  await expectText(alice, 'reg-status', /^Signed out$/);
  assert.equal(alice.grants.at(-1), 'revoke');
  assert.ok(await byId(alice, 'login').isVisible());
  const until = Date.now() + 3000;
  while (stubRegisterCount(stack) <= regsBefore && Date.now() < until) await sleep(100);
  assert.match(stack.stub.log.split('\n').filter((l) => l.includes('register aor=sip:alice')).at(-1) || '', /status=200/);
  // bob can no longer reach alice.
  await byId(bob, 'msg-to').fill('alice');
  await byId(bob, 'msg-input').fill('are you gone?');
  await byId(bob, 'msg-send').click();
  await expectText(bob, 'msg-log', /are you gone\? \(not delivered\)/);
  await shot(alice, 'wic-10-signed-out');
});
