// Issue 14 / checklist 77 in Chromium: alice (DPoP key in her browser) and bob in a call; alice's
// WebSocket is cut; her page reconnects at once and re-registers with a proof; the call stays up
// (audio keeps flowing both ways per getStats, past the grace time) and bob's BYE reaches her on
// the new connection. The same cut without the key (alice's page is gone, a thief presents a
// token bound to her key without a proof) moves nothing and bob gets the BYE after the grace.
// bob's re-INVITE over the recovered flow is covered with the Node client (integration.flow-recovery).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, token, SipWs, registerMsg } from '../integration/harness.mjs';
import { startWicStack, launch, openPage, signIn, byId, shot, expectText, inboundAudioPackets } from './wic-helpers.mjs';

const GRACE = 6;
let stack;
let browser;

before(async () => {
  stack = await startWicStack({ gatewayArgs: ['--flow-recovery-grace', String(GRACE)] });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  if (process.env.IMSGW_BROWSER_DEBUG) console.log(stack.gateway.log, stack.stub.log);
  const exits = await stack?.stop();
  if (exits) for (const [name, r] of Object.entries(exits)) assert.deepEqual(r, { code: 0, sig: null }, `${name} exit`);
});

/** A page that keeps its WebSockets reachable for the test's cut. */
async function phonePage(name) {
  const page = await openPage(browser, name);
  await page.addInitScript(() => {
    const Native = window.WebSocket;
    window.__ws = [];
    window.WebSocket = class extends Native {
      constructor(...a) { super(...a); window.__ws.push(this); }
    };
  });
  return page;
}

const metric = async (name) => {
  const m = new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} ([0-9.]+)$`, 'm').exec(await (await fetch(`${stack.httpUrl}/metrics`)).text());
  return m ? Number(m[1]) : NaN;
};

async function inCall(alice, bob) {
  await byId(bob, 'dial-input').fill('alice');
  await byId(bob, 'call').click();
  await expectText(alice, 'call-status', /^Incoming call from sip:bob@ims\.test$/);
  await byId(alice, 'answer').click();
  await expectText(alice, 'call-status', /^In call with sip:bob@ims\.test$/);
  await expectText(bob, 'call-status', /^In call with sip:alice@ims\.test$/);
  const until = Date.now() + 10000;
  let a = 0;
  let b = 0;
  while ((a <= 0 || b <= 0) && Date.now() < until) {
    await sleep(250);
    [a, b] = [await inboundAudioPackets(alice), await inboundAudioPackets(bob)];
  }
  assert.ok(a > 0 && b > 0, `audio flows: alice=${a} bob=${b}`);
}

async function gatewayLog(re, ms = 10000) {
  for (let i = 0; i < ms / 50 && !re.test(stack.gateway.log); i++) await sleep(50);
  assert.match(stack.gateway.log, re);
}

test('the WebSocket is cut mid-call: the page recovers the flow with its key and the call goes on', async () => {
  const alice = await phonePage('alice');
  const bob = await phonePage('bob');
  await signIn(alice, stack, 'alice', stack.passwords.alice);
  await signIn(bob, stack, 'bob', stack.passwords.bob);
  await inCall(alice, bob);
  await alice.evaluate(() => window.__ws.at(-1).close()); // the network breaks
  await gatewayLog(/recover: flow \d+ recovered by connection \d+ with a DPoP proof; 1 dialogs carried over/);
  await expectText(alice, 'reg-status', /^Registered$/);
  // past the grace: no BYE was sent, audio still flows both ways
  await sleep(GRACE * 1000 + 1000);
  const [a0, b0] = [await inboundAudioPackets(alice), await inboundAudioPackets(bob)];
  await sleep(1500);
  const [a1, b1] = [await inboundAudioPackets(alice), await inboundAudioPackets(bob)];
  assert.ok(a1 > a0 && b1 > b0, `audio keeps flowing: alice ${a0}→${a1}, bob ${b0}→${b1}`);
  await expectText(alice, 'call-status', /^In call with sip:bob@ims\.test$/);
  await expectText(bob, 'call-status', /^In call with sip:alice@ims\.test$/);
  await shot(alice, 'wic-recovery-1-alice-after-cut');
  // bob hangs up: the BYE follows the old flow token to alice's new connection
  await byId(bob, 'hangup').click();
  await expectText(alice, 'call-status', /^Call ended by sip:bob@ims\.test$/);
  assert.equal(await metric('imsgw_flow_recoveries_total{result="recovered"}'), 1);
  await alice.context().close();
  await bob.context().close();
});

test('the same cut without the key moves nothing; bob gets BYE after the grace', async () => {
  const alice = await phonePage('alice');
  const bob = await phonePage('bob');
  await signIn(alice, stack, 'alice', stack.passwords.alice);
  await signIn(bob, stack, 'bob', stack.passwords.bob);
  await inCall(alice, bob);
  // a token bound to alice's key (the public half is all a thief needs to name it)
  const jkt = await alice.evaluate(async () => (await import('./dpop.js')).dpopKey().then((k) => k.jkt));
  const instance = await alice.evaluate(() => localStorage.getItem('imsgw.sip.instance'));
  await alice.context().close(); // alice's browser is gone with its key
  const stolen = token(stack, 'alice', ['--jkt', jkt]);
  const thief = await SipWs.open(stack.wsUrl);
  const r = await thief.request(registerMsg({ callId: 'thief', auth: `DPoP ${stolen}` })
    .replace(/\+sip\.instance="<urn:uuid:[^>]+>"/, `+sip.instance="<urn:uuid:${instance}>"`));
  assert.equal(r.status, 401);
  assert.match(r.headers['www-authenticate'][0], /DPoP header is missing/);
  await expectText(bob, 'call-status', /^Call ended by sip:alice@ims\.test$/, (GRACE + 5) * 1000);
  await gatewayLog(/recover: flow \d+ was not recovered within 6 s; its calls are ended/);
  thief.close();
  await bob.context().close();
  for (let i = 0; i < 100 && ((await metric('imsgw_dialogs')) > 0 || (await metric('imsgw_proxy_transactions')) > 0); i++) await sleep(50);
  assert.equal(await metric('imsgw_dialogs'), 0);
  assert.equal(await metric('imsgw_proxy_transactions'), 0);
});
