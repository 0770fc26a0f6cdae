// Issue 16 item 5, in Chromium: the operator page refuses a visitor without the credential,
// shows alice's registration and her call with bob while they exist and nothing of them after,
// and removes bob's registration with its Remove button. The page with the call on it is saved
// as docs/screenshot-operator.png. axe-core finds no serious or critical violation on the page, and
// the removal is done by keyboard alone (Tab to the button, Enter twice), the focus staying on
// the button while the page redraws its tables every 2 s.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startWicStack, launch, openPage, signIn, byId, shot, expectText, expectAccessible } from './wic-helpers.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PASSWORD = 'op-browser-secret-42';
let stack, browser, alice, bob, operator, credDir;

before(async () => {
  credDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imsgw-op-'));
  const file = path.join(credDir, 'operator-password');
  fs.writeFileSync(file, `${PASSWORD}\n`, { mode: 0o600 });
  stack = await startWicStack({ gatewayArgs: ['--admin-credential-file', file] });
  browser = await launch();
  alice = await openPage(browser, 'alice');
  bob = await openPage(browser, 'bob');
  const ctx = await browser.newContext({ viewport: { width: 1200, height: 900 },
    httpCredentials: { username: 'operator', password: PASSWORD } });
  operator = await ctx.newPage();
  operator.testName = 'operator';
  operator.log = [];
  operator.on('pageerror', (e) => operator.log.push(`pageerror: ${e.message}`));
});

after(async () => {
  await browser?.close();
  const exits = await stack?.stop();
  fs.rmSync(credDir, { recursive: true, force: true });
  if (exits) for (const [name, r] of Object.entries(exits)) assert.deepEqual(r, { code: 0, sig: null }, `${name} exit`);
});

/** The focused element: tag, test id, accessible label, and whether a focus ring is drawn. */
const focused = () => operator.evaluate(() => {
  const a = document.activeElement;
  const st = getComputedStyle(a);
  return { tag: a.tagName, testid: a.dataset.testid, label: a.getAttribute('aria-label') || a.textContent,
    ring: st.outlineStyle !== 'none' && parseFloat(st.outlineWidth) >= 2 };
});
const rows = (testId) => byId(operator, testId).locator('tbody tr');
/** Waits (bounded; the page polls every 2 s) until the table's rows satisfy check. */
async function tableUntil(testId, what, check, timeout = 10000) {
  const end = Date.now() + timeout;
  let texts = [];
  while (Date.now() < end) {
    texts = await rows(testId).allTextContents();
    if (check(texts)) return texts;
    await operator.waitForTimeout(200);
  }
  throw new Error(`operator page, ${testId}: ${what}; rows: ${JSON.stringify(texts)}\n${operator.log.join('\n')}`);
}

test('a browser without the credential gets 401 and no page', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const seen = [];
  page.on('response', (r) => seen.push(`${r.status()} ${new URL(r.url()).pathname}`));
  // headless Chromium cancels the Basic prompt: the navigation fails, nothing is shown
  const failed = await page.goto(`${stack.httpUrl}/admin/`).then(() => null, (e) => e.message);
  assert.match(failed ?? 'the page loaded', /ERR_INVALID_AUTH_CREDENTIALS/);
  assert.deepEqual(seen, ['401 /admin/'], 'the page never loaded its script or data');
  const api = await page.request.get(`${stack.httpUrl}/admin/api/state`);
  assert.equal(api.status(), 401);
  await ctx.close();
});

test("the page shows alice's registration and her call while they exist, and nothing after", async () => {
  await signIn(alice, stack, 'alice', stack.passwords.alice);
  await signIn(bob, stack, 'bob', stack.passwords.bob);
  const r = await operator.goto(`${stack.httpUrl}/admin/`);
  assert.equal(r.status(), 200);
  await tableUntil('registrations', 'alice and bob registered', (t) =>
    t.some((x) => x.includes('sip:alice@ims.test')) && t.some((x) => x.includes('sip:bob@ims.test')));

  await byId(alice, 'dial-input').fill('bob');
  await byId(alice, 'call').click();
  await expectText(bob, 'call-status', /^Incoming call from sip:alice@ims\.test$/);
  await byId(bob, 'answer').click();
  await expectText(alice, 'call-status', /^In call with sip:bob@ims\.test$/);
  const calls = await tableUntil('dialogs', 'the call confirmed', (t) =>
    t.some((x) => /confirmed\s*outgoing\s*sip:alice@ims\.test\s*sip:bob@ims\.test/.test(x)));
  assert.ok(calls.some((x) => /confirmed\s*incoming\s*sip:bob@ims\.test\s*sip:alice@ims\.test/.test(x)), calls.join('\n'));
  await expectText(operator, 'count-calls', /2/);
  await expectAccessible(operator, 'with a call');
  await operator.screenshot({ path: path.join(ROOT, 'docs', 'screenshot-operator.png'), fullPage: true });
  await shot(operator, 'operator-01-call');

  await byId(alice, 'hangup').click();
  await expectText(alice, 'call-status', /^Call ended$/);
  await tableUntil('dialogs', 'no call after the hang-up', (t) => t.length === 1 && /No calls/.test(t[0]));
  // alice closes her tab: her flow and registration go with it
  await alice.context().close();
  await tableUntil('registrations', 'no alice after she left', (t) =>
    !t.some((x) => x.includes('sip:alice@ims.test')) && t.some((x) => x.includes('sip:bob@ims.test')));
  await shot(operator, 'operator-02-after');
});

test("the operator removes bob's registration: gone from the page, de-REGISTER sent upstream", async () => {
  await expectAccessible(operator, 'one registration');
  // keyboard only: Tab from the top of the page reaches the Remove button, with a focus ring
  await operator.evaluate(() => document.activeElement?.blur());
  let reached = null;
  for (let i = 0; i < 20 && !reached; i++) {
    await operator.keyboard.press('Tab');
    const f = await focused();
    if (f.tag !== 'BODY') assert.ok(f.ring, `no visible focus on ${f.tag} ${f.label}`);
    if (f.testid === 'remove') reached = f;
  }
  assert.ok(reached, 'the Remove button is not reachable by Tab');
  assert.match(reached.label, /^Remove the registration of sip:bob@ims\.test on connection \d+$/);
  await operator.keyboard.press('Enter');
  // two steps (no accidental removal); the focus moves with the button into its second step and
  // stays there across the page's redraws (each 2 s)
  await operator.waitForTimeout(2500);
  const armed = await focused();
  assert.equal(armed.testid, 'remove', `the focus left the button: ${JSON.stringify(armed)}`);
  assert.match(armed.label, /^Confirm removal of the registration of sip:bob@ims\.test/);
  await operator.keyboard.press('Enter');
  await expectText(operator, 'status', /Registration of sip:bob@ims\.test removed/);
  await tableUntil('registrations', 'bob removed', (t) => !t.some((x) => x.includes('sip:bob@ims.test')));
  assert.match(stack.gateway.log, /removed by the operator; de-REGISTER sent for sip:bob@ims\.test/);
  await shot(operator, 'operator-03-removed');
});
