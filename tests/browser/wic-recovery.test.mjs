// Issue 14 / checklist 77 in Chromium: alice (DPoP key in her browser) and bob in a call; alice's
// WebSocket is cut; her page reconnects at once and re-registers with a proof; the call stays up
// (audio keeps flowing both ways per getStats, past the grace time); bob's re-INVITEs (hold, then
// resume) and his BYE reach her on the new connection (her page's JsSIP session sees them, the
// new WebSocket carried them, the gateway routed them through the old flow token), and audio
// flows again after the resume. The same cut without the key (alice's page is gone, a thief
// presents a token bound to her key without a proof) moves nothing and bob gets the BYE after the
// grace. After each, /metrics shows no dialog, transaction or held flow left. Two gateway workers
// (issue 13): the page's new WebSocket goes to the recovery URL its worker named
// (Flow-Recovery-URI), so the recovery does not depend on which worker the kernel picks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { sleep, token, SipWs, registerMsg, freePortRange } from '../integration/harness.mjs';
import { startWicStack, launch, openPage, signIn, byId, shot, expectText, inboundAudioPackets, audioBothWays } from './wic-helpers.mjs';

const GRACE = 6;
let stack;
let browser;
let recoveryPort;

before(async () => {
  let sipPort;
  sipPort = await freePortRange(2);
  recoveryPort = await freePortRange(2);
  stack = await startWicStack({ gatewayArgs: ['--flow-recovery-grace', String(GRACE), '--workers', '2',
    '--sip-listen', `sip:127.0.0.1:${sipPort}`, '--recovery-port', String(recoveryPort)] });
  for (let i = 0; i < 100 && (stack.gateway.log.match(/ listening: /g) || []).length < 2; i++) await sleep(50);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  if (process.env.IMSGW_BROWSER_DEBUG) console.log(stack.gateway.log, stack.stub.log);
  const exits = await stack?.stop();
  if (exits) for (const [name, r] of Object.entries(exits)) assert.deepEqual(r, { code: 0, sig: null }, `${name} exit`);
});

/** A page that keeps its WebSockets reachable for the test's cut, each with the start lines of
 * the SIP messages it received (`lines`). */
async function phonePage(name) {
  const page = await openPage(browser, name);
  await page.addInitScript(() => {
    const Native = window.WebSocket;
    window.__ws = [];
    window.WebSocket = class extends Native {
      constructor(...a) {
        // window.__blackhole: every URL but the page's own goes there (a dropped recovery port)
        if (window.__blackhole && a[0] !== `ws://${location.host}/sip`) a[0] = window.__blackhole;
        super(...a);
        this.lines = [];
        this.addEventListener('message', (e) => { if (typeof e.data === 'string') this.lines.push(e.data.split('\r\n', 1)[0]); });
        window.__ws.push(this);
      }
    };
  });
  return page;
}

/** Test hook: the page's JsSIP sessions in window.__sessions (the same module instance the
 * page's phone.js imported, so its UA's newRTCSession events are seen). Call once signed in. */
function recordSessions(page) {
  return page.evaluate(async () => {
    const JsSIP = (await import('./vendor/jssip.js')).default;
    const emit = JsSIP.UA.prototype.emit;
    window.__sessions = [];
    window.__sessionEvents = [];
    JsSIP.UA.prototype.emit = function (event, ...args) {
      if (event === 'newRTCSession') {
        const { session } = args[0];
        window.__sessions.push(session);
        for (const e of ['hold', 'unhold', 'reinvite']) session.on(e, (ev) => window.__sessionEvents.push(`${e} ${ev.originator || ''}`.trim()));
      }
      return emit.call(this, event, ...args);
    };
  });
}

/** Waits (bounded) until the page's newest session has seen event (e.g. 'hold remote'). */
async function sessionEvent(page, event, ms = 10000) {
  for (let i = 0; i < ms / 50; i++) {
    if ((await page.evaluate(() => window.__sessionEvents)).includes(event)) return;
    await sleep(50);
  }
  assert.fail(`${page.testName}: no "${event}" event; saw ${JSON.stringify(await page.evaluate(() => window.__sessionEvents))}`);
}

/**
 * bob's session puts the call on hold or resumes it ('hold' / 'unhold') and resolves when the
 * peer answered the re-INVITE. JsSIP refuses a new offer while one is still unanswered, so the
 * test must not resume before the hold's 200 OK reached bob (slow under ASan).
 */
async function reoffer(page, what, ms = 10000) {
  const r = await page.evaluate(([w, t]) => new Promise((resolve) => {
    const timer = setTimeout(() => resolve('no answer to the re-INVITE'), t);
    const ok = window.__sessions.at(-1)[w]({}, () => { clearTimeout(timer); resolve('answered'); });
    if (!ok) { clearTimeout(timer); resolve('refused by JsSIP'); }
  }), [what, ms]);
  assert.equal(r, 'answered', `${page.testName} ${what}`);
}

/** Waits (bounded) until both pages receive more audio packets than a moment ago. */
async function audioFlows(alice, bob, what) {
  const [a0, b0] = [await inboundAudioPackets(alice), await inboundAudioPackets(bob)];
  let [a1, b1] = [a0, b0];
  for (let i = 0; i < 40 && (a1 <= a0 || b1 <= b0); i++) {
    await sleep(250);
    [a1, b1] = [await inboundAudioPackets(alice), await inboundAudioPackets(bob)];
  }
  assert.ok(a1 > a0 && b1 > b0, `${what}: alice ${a0}→${a1}, bob ${b0}→${b1}`);
}

/**
 * No dialog, transaction or held flow left (workers publish their counters in a second). A page
 * closed just before is itself a DPoP-proven flow, held for the grace time even without calls.
 */
async function allClear() {
  const names = ['imsgw_dialogs', 'imsgw_proxy_transactions', 'imsgw_flow_recovery_held'];
  const busy = async () => (await Promise.all(names.map(metric))).some((v) => v !== 0);
  await sleep(1500); // the close of a page shut just before reaches the gateway and its counters
  const until = Date.now() + (GRACE + 3) * 1000;
  while (Date.now() < until && (await busy())) await sleep(100);
  for (const n of names) assert.equal(await metric(n), 0, n);
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
  const [a, b] = await audioBothWays(alice, bob);
  assert.ok(a > 0 && b > 0, `audio flows: alice=${a} bob=${b}`);
}

async function gatewayLog(re, ms = 10000) {
  for (let i = 0; i < ms / 50 && !re.test(stack.gateway.log); i++) await sleep(50);
  assert.match(stack.gateway.log, re);
}

test('the WebSocket is cut mid-call: the page recovers the flow with its key; bob\'s re-INVITEs and BYE reach it', async () => {
  const alice = await phonePage('alice');
  const bob = await phonePage('bob');
  await signIn(alice, stack, 'alice', stack.passwords.alice);
  await signIn(bob, stack, 'bob', stack.passwords.bob);
  await recordSessions(alice);
  await recordSessions(bob);
  await inCall(alice, bob);
  const routed0 = await metric('imsgw_flow_recovery_routed_total');
  await alice.evaluate(() => window.__ws.at(-1).close()); // the network breaks
  await gatewayLog(/recover: flow \d+ recovered by connection \d+ with a DPoP proof; 1 dialogs carried over/);
  await expectText(alice, 'reg-status', /^Registered$/);
  assert.equal(await alice.evaluate(() => window.__ws.length), 2, 'alice is on a new WebSocket');
  const urls = await alice.evaluate(() => window.__ws.map((w) => w.url));
  assert.match(urls[1], new RegExp(`^ws://127\\.0\\.0\\.1:(${recoveryPort}|${recoveryPort + 1})/sip$`),
    `the new WebSocket went to a worker's recovery port: ${urls}`);
  // past the grace: no BYE was sent, audio still flows both ways
  await sleep(GRACE * 1000 + 1000);
  await audioFlows(alice, bob, 'audio keeps flowing after the cut');
  await expectText(alice, 'call-status', /^In call with sip:bob@ims\.test$/);
  await expectText(bob, 'call-status', /^In call with sip:alice@ims\.test$/);
  await shot(alice, 'wic-recovery-1-alice-after-cut');
  // bob puts the call on hold and resumes it: two re-INVITEs that follow the old flow token in
  // the route set to alice's new WebSocket, where her JsSIP session answers them
  await reoffer(bob, 'hold');
  await sessionEvent(alice, 'hold remote');
  assert.equal(await alice.evaluate(() => window.__sessions.at(-1).isOnHold().remote), true);
  await reoffer(bob, 'unhold');
  await sessionEvent(alice, 'unhold remote');
  const reinvites = await alice.evaluate(() => window.__ws.at(-1).lines.filter((l) => l.startsWith('INVITE ')).length);
  assert.equal(reinvites, 2, 'both re-INVITEs came over the new WebSocket');
  // (workers publish their counters every second)
  let routed = 0;
  for (let i = 0; i < 30 && (routed = await metric('imsgw_flow_recovery_routed_total')) < routed0 + 2; i++) await sleep(100);
  assert.ok(routed >= routed0 + 2, `the gateway routed them through the old flow token: ${routed0} -> ${routed}`);
  await audioFlows(alice, bob, 'audio flows again after the resume');
  // bob hangs up: the BYE follows the old flow token to alice's new connection
  await byId(bob, 'hangup').click();
  await expectText(alice, 'call-status', /^Call ended by sip:bob@ims\.test$/);
  assert.ok(await alice.evaluate(() => window.__ws.at(-1).lines.some((l) => l.startsWith('BYE '))), 'the BYE came over the new WebSocket');
  assert.equal(await metric('imsgw_flow_recoveries_total{result="recovered"}'), 1);
  await allClear();
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
  const heldBefore = await metric('imsgw_flow_recovery_held'); // flows of the first test may still wait
  await alice.context().close(); // alice's browser is gone with its key
  // the thief must come while her flow is held (not before the gateway saw the close)
  for (let i = 0; i < 100 && (await metric('imsgw_flow_recovery_held')) <= heldBefore; i++) await sleep(50);
  assert.ok(await metric('imsgw_flow_recovery_held') > heldBefore, 'alice\'s flow is held');
  const stolen = token(stack, 'alice', ['--jkt', jkt]);
  // the thief tries every worker's recovery port (and so the one holding alice's flow)
  const thieves = [];
  for (const port of [recoveryPort, recoveryPort + 1]) {
    const thief = await SipWs.open(`ws://127.0.0.1:${port}/sip`);
    thieves.push(thief);
    const r = await thief.request(registerMsg({ callId: `thief-${port}`, auth: `DPoP ${stolen}` })
      .replace(/\+sip\.instance="<urn:uuid:[^>]+>"/, `+sip.instance="<urn:uuid:${instance}>"`));
    assert.equal(r.status, 401);
    assert.match(r.headers['www-authenticate'][0], /DPoP header is missing/);
  }
  await expectText(bob, 'call-status', /^Call ended by sip:alice@ims\.test$/, (GRACE + 5) * 1000);
  await gatewayLog(/recover: flow \d+ was not recovered within 6 s; its calls are ended/);
  for (const thief of thieves) assert.equal(thief.queue.filter((m) => /^(BYE|INVITE) /.test(m)).length, 0, 'nothing reached the thief');
  assert.equal(await metric('imsgw_flow_recoveries_total{result="recovered"}'), 1, 'no recovery beyond the first test\'s');
  assert.ok(await metric('imsgw_flow_recoveries_total{result="refused"}') >= 1, 'the holding worker counted the refusal');
  for (const thief of thieves) thief.close();
  await bob.context().close();
  await allClear();
});

test('the recovery port cannot be reached: the page gives up on it within the grace and comes back through the shared URL', async () => {
  const held = [];
  const silent = net.createServer((s) => held.push(s)); // accepts, never answers: as a firewall drop looks
  await new Promise((r) => silent.listen(0, '127.0.0.1', r));
  const alice = await phonePage('alice');
  const bob = await phonePage('bob');
  await signIn(alice, stack, 'alice', stack.passwords.alice);
  await signIn(bob, stack, 'bob', stack.passwords.bob);
  await inCall(alice, bob);
  await alice.evaluate((port) => { window.__blackhole = `ws://127.0.0.1:${port}/sip`; }, silent.address().port);
  const cut = Date.now();
  await alice.evaluate(() => window.__ws.at(-1).close());
  let urls = [];
  for (let i = 0; i < 200 && !(urls.length >= 3 && urls[2].open); i++) {
    await sleep(50);
    urls = await alice.evaluate(() => window.__ws.map((w) => ({ url: w.url, open: w.readyState === 1 })));
  }
  const back = Date.now() - cut;
  assert.equal(urls.length, 3, JSON.stringify(urls));
  assert.equal(urls[1].url, `ws://127.0.0.1:${silent.address().port}/sip`, 'first the recovery URL (dropped here)');
  assert.equal(urls[2].url, stack.wsUrl, 'then the shared URL');
  assert.ok(back >= 2500 && back < GRACE * 1000, `back on the shared URL after ${back} ms, within the grace`);
  await expectText(alice, 'reg-status', /^Registered$/);
  // the call survives only when the kernel picked the holding worker; either way it is ended cleanly
  if (await byId(bob, 'hangup').isVisible()) await byId(bob, 'hangup').click();
  await alice.context().close();
  await bob.context().close();
  for (const s of held) s.destroy();
  silent.close();
  await allClear();
});
