// Issue 15 / field.md checklist 79, on several hosts (tests/scale/netns.sh): HAProxy in front of
// three gateways (TCP, PROXY v2) and two WAFs (HTTP) on one PostgreSQL. Killing a gateway leaves
// the other gateways' users untouched and its own users register again through the balancer;
// killing a WAF leaves sign-in and refresh working.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Ua, SDP } from '../integration/sipua.mjs';
import { wicTokens, post, basic } from '../integration/waf-helpers.mjs';
import { sleep, SipWs } from '../integration/harness.mjs';
import { wwsfCopy, launch, openPage, signIn, expectText, shot } from '../browser/wic-helpers.mjs';
import { inNetns, startTopology, stopTopology, haproxyStatus, gatewayOf, GATEWAYS, WAFS, CLIENT, LB, PAGE_URL,
  ISSUER } from './topology.mjs';

const USERS = Array.from({ length: 9 }, (_, i) => `u${i + 1}`);
// the clients' reconnect back-off after a lost WebSocket (JsSIP's first retry is about 2 s)
const BACKOFF_MS = 2000;
// signs in with the web client in Chromium (the last test)
const WIC_USER = 'web1';
// gw1 runs two worker processes behind the one PROXY-protocol gate
const WORKERS_ON = 'gw1';
let topo;
let wwsf;
const uas = {};
const killed = new Set();

before(async () => {
  if (!inNetns) return;
  wwsf = wwsfCopy({ reconnectBaseSeconds: 2 });
  wwsf.writeConfig(ISSUER);
  // as a deployment does (docs/wic.md): the page may fetch from its WAF's origin, not loopback's
  const index = path.join(wwsf.dir, 'index.html');
  fs.writeFileSync(index, fs.readFileSync(index, 'utf8').replace('http://127.0.0.1:* http://localhost:*', ISSUER));
  topo = await startTopology({ users: [...USERS, WIC_USER], wwsfDir: wwsf.dir,
    gatewayArgs: (h) => (h === WORKERS_ON ? ['--workers', '2'] : []) });
  try {
    for (const u of USERS) uas[u] = await Ua.register(topo, u);
  } catch (e) { // the daemons' last words: a refused first REGISTER has been seen once, cause unknown
    throw new Error(`${e.message}\n${topo.procs.map((p) => p.tail(15)).join('\n')}`);
  }
}, { timeout: 90000 });

after(async () => {
  if (!topo) return;
  for (const ua of Object.values(uas)) ua.ws?.ws?.terminate();
  const results = await stopTopology(topo);
  fs.rmSync(wwsf.dir, { recursive: true, force: true });
  for (const [host, r] of Object.entries(results)) {
    const proc = topo.procs.find((p) => p.host === host);
    // HAProxy ends on SIGTERM by the signal; the killed daemons by SIGKILL
    if (killed.has(host) || !proc.name.startsWith('imsgw')) continue;
    assert.deepEqual(r, { code: 0, sig: null }, `${host} exit\n${proc.tail()}`);
  }
});

const skip = !inNetns && 'run through tests/scale/netns.sh';

test('the balancer spreads users over the gateways, which see the clients\' own address (PROXY v2)', { skip }, () => {
  const per = {};
  for (const u of USERS) (per[gatewayOf(uas[u])] ||= []).push(u);
  assert.deepEqual(Object.keys(per).sort(), Object.keys(GATEWAYS), `users per gateway: ${JSON.stringify(per)}`);
  for (const g of Object.keys(GATEWAYS)) {
    const log = topo.gateways[g].log;
    assert.match(log, new RegExp(`ws: connection \\d+ open from ${CLIENT.replace(/\./g, '\\.')}\\b`));
    assert.doesNotMatch(log, new RegExp(`open from ${LB.replace(/\./g, '\\.')}\\b`), 'the balancer\'s address');
    assert.doesNotMatch(log, /proxy-protocol: .*refused/, 'HAProxy\'s own connections and checks are accepted');
  }
});

test('a PROXY header from a host that is not the balancer is refused', { skip }, async () => {
  const hdr = Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540a', 'hex'), Buffer.from([0x21, 0x11, 0, 12]),
    Buffer.from([203, 0, 113, 9, 10, 99, 0, 3, 0x30, 0x39, 0x1f, 0x90])]);
  const req = 'GET /sip HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n';
  const answer = await new Promise((resolve) => {
    const s = net.connect(8080, GATEWAYS.gw1);
    let got = '';
    s.on('connect', () => s.write(Buffer.concat([hdr, Buffer.from(req)])));
    s.on('data', (d) => { got += d; });
    s.on('close', () => resolve(got));
    s.on('error', () => resolve(got));
    s.setTimeout(5000, () => s.destroy());
  });
  assert.doesNotMatch(answer, /101/, 'no handshake');
  assert.match(topo.gateways.gw1.log, /proxy-protocol: connection from 10\.99\.0\.10 refused: a PROXY protocol header/);
  assert.doesNotMatch(topo.gateways.gw1.log, /203\.0\.113\.9/, 'the forged address is believed nowhere');
});

test('PROXY v2 with two workers on one gateway: both workers see the clients\' own address', { skip }, async () => {
  const re = (w, addr) => new RegExp(`imsgw-gateway/${w} info: ws: connection \\d+ open from ${addr.replace(/\./g, '\\.')}\\b`);
  const log = () => topo.gateways[WORKERS_ON].log;
  // more connections through the balancer until the kernel has handed some to each worker
  // (a third of them reach this gateway; each lands on either worker)
  const extra = [];
  try {
    for (let i = 0; i < 60 && !(re(0, CLIENT).test(log()) && re(1, CLIENT).test(log())); i++)
      extra.push(await SipWs.open(topo.wsUrl));
  } finally {
    for (const ws of extra) ws.close();
  }
  for (const w of [0, 1]) {
    assert.match(log(), re(w, CLIENT), `worker ${w} saw a client connection with the client's address`);
    assert.doesNotMatch(log(), re(w, LB), `worker ${w} never took the balancer's address for a client's`);
  }
  assert.doesNotMatch(log(), new RegExp(`proxy-protocol: connection from ${LB.replace(/\./g, '\\.')} refused`),
    'HAProxy\'s connections and checks are accepted by both workers');
  assert.equal((log().match(/worker \d started/g) || []).length, 2);
});

/** Each WAF's count of tokens issued by refresh (its own /metrics, straight to its host). */
async function refreshesIssued() {
  const n = {};
  for (const [w, a] of Object.entries(WAFS)) {
    const text = await (await fetch(`http://${a}:8000/metrics`)).text();
    n[w] = Number(/imsgw_waf_tokens_issued_total\{grant="refresh_token"\} (\d+)/.exec(text)[1]);
  }
  return n;
}
let busyRetries = 0;
/** As a client does: a 503 "try again" (the write lock stayed taken longer than the WAF waits, on
 * a loaded test host) is retried after a pause; nothing was written by it. */
async function retried(fn) {
  for (let attempt = 0; ; attempt++) {
    const r = await fn();
    if (r.status !== 503 || attempt === 10) return r;
    busyRetries++;
    await sleep(100);
  }
}
const refresh = (waf, token) => retried(() =>
  post(waf, '/token', { grant_type: 'refresh_token', refresh_token: token, client_id: 'wic' }));
/** Is token live, as the WAF on host w (straight to it, not through the balancer) sees it? */
const liveAt = async (w, token) => (await post({ issuer: `http://${WAFS[w]}:8000` }, '/introspect', { token },
  { authorization: basic('gateway', topo.gatewaySecret) })).json.active;

test('1,000 concurrent refresh rotations through the balancer, split over both WAFs: none lost, one child each; ' +
  'a reuse revokes the family at both', { skip, timeout: 90000 }, async () => {
  const waf = { issuer: topo.issuer, passwords: topo.passwords };
  const families = 50, rounds = 20;
  const chains = [];
  for (let i = 0; i < families; i++) {
    const t = await retried(() => wicTokens(waf, USERS[i % USERS.length]));
    assert.equal(t.status, 200, t.text);
    chains.push([t.json.refresh_token]);
  }
  const before = await refreshesIssued();
  // 50 families rotate at once, round after round: 50 rotations in flight through HAProxy all the time
  await Promise.all(chains.map(async (chain, i) => {
    for (let r = 0; r < rounds; r++) {
      const res = await refresh(waf, chain.at(-1));
      assert.equal(res.status, 200, `family ${i} round ${r}: ${res.text}`);
      chain.push(res.json.refresh_token);
    }
  }));
  const after = await refreshesIssued();
  const served = Object.fromEntries(Object.keys(WAFS).map((w) => [w, after[w] - before[w]]));
  if (busyRetries) console.log(`# ${busyRetries} rotations answered 503 busy and were retried`);
  console.log(`# rotations served: ${JSON.stringify(served)}`);
  assert.equal(Object.values(served).reduce((x, y) => x + y), families * rounds, 'each rotation issued exactly once');
  for (const w of Object.keys(WAFS)) assert.ok(served[w] >= families * rounds / 4, `${w} served a share: ${JSON.stringify(served)}`);
  const all = chains.flat();
  assert.equal(new Set(all).size, all.length, 'every rotation issued a new token');
  // one live token per family, the same at both WAFs
  for (const chain of chains.slice(0, 5))
    for (const w of Object.keys(WAFS)) {
      assert.equal(await liveAt(w, chain.at(-1)), true, `${w}: the last token is live`);
      assert.equal(await liveAt(w, chain.at(-2)), false, `${w}: its parent is spent`);
    }

  // the same refresh token twice at once through the balancer (round robin: one to each WAF):
  // one child at most, and the reuse revokes the family as seen by each WAF
  const races = await Promise.all(chains.slice(0, 10).map(async (chain) => {
    const [r1, r2] = await Promise.all([refresh(waf, chain.at(-1)), refresh(waf, chain.at(-1))]);
    return { chain, r1, r2 };
  }));
  for (const { chain, r1, r2 } of races) {
    const children = [r1, r2].filter((r) => r.status === 200);
    assert.ok(children.length <= 1, `two children of one refresh token (${r1.status}, ${r2.status})`);
    assert.ok([r1, r2].some((r) => r.json?.error === 'invalid_grant'), 'the second presentation is a reuse');
  }
  // and a plain reuse of an old token: the family's live token dies at both WAFs
  const [victim] = chains.slice(10, 11);
  const reuse = await refresh(waf, victim[5]);
  assert.equal(reuse.json?.error, 'invalid_grant');
  for (const { chain, r1, r2 } of [...races, { chain: victim, r1: { status: 0 }, r2: { status: 0 } }])
    for (const w of Object.keys(WAFS)) {
      assert.equal(await liveAt(w, chain.at(-1)), false, `${w}: family revoked`);
      for (const r of [r1, r2].filter((x) => x.status === 200))
        assert.equal(await liveAt(w, r.json.refresh_token), false, `${w}: the racing child revoked`);
    }
});

test('killing one gateway: the others\' users notice nothing, its users register again through the balancer',
  { skip, timeout: 60000 }, async () => {
    const on = (g) => USERS.filter((u) => gatewayOf(uas[u]) === g);
    const victim = 'gw3';
    const [a, b] = [on('gw1')[0], on('gw2')[0]];
    const survivors = USERS.filter((u) => gatewayOf(uas[u]) !== victim);
    const orphans = on(victim);
    const closed = {};
    for (const u of USERS) uas[u].ws.closed.then((code) => { closed[u] = code; });

    // a call between users of two surviving gateways, up before the failure
    const alice = uas[a], bob = uas[b];
    const tx = alice.request('INVITE', `sip:${b}@ims.test`, { body: SDP(a) });
    const inv = await bob.waitRequest('INVITE');
    const bobDialog = bob.respond(inv, 200, 'OK', { body: SDP(b) });
    const ok = await alice.waitStatus(200, 'INVITE');
    const dialog = alice.dialogFrom(tx, ok);
    alice.inDialog(dialog, 'ACK');
    await bob.waitRequest('ACK');

    killed.add(victim);
    const killedAt = Date.now();
    await topo.gateways[victim].kill('SIGKILL');
    // its clients see their WebSocket drop and, after their back-off, reconnect to the balancer
    const back = await Promise.all(orphans.map(async (u) => {
      await uas[u].ws.closed;
      const lost = Date.now();
      await sleep(BACKOFF_MS);
      const rsp = await uas[u].connect(topo);
      return { u, status: rsp.status, afterLoss: Date.now() - lost, gw: gatewayOf(uas[u]) };
    }));
    for (const r of back) {
      assert.equal(r.status, 200, `${r.u} registered again`);
      assert.notEqual(r.gw, victim, `${r.u} reached a live gateway`);
      assert.ok(r.afterLoss < BACKOFF_MS + 3000, `${r.u} back ${r.afterLoss} ms after the loss`);
    }
    assert.ok(Date.now() - killedAt < BACKOFF_MS + 5000);

    // the call across the surviving gateways goes on: in-dialog requests both ways, then BYE
    bob.inDialog(bobDialog, 'INFO', { extra: ['Content-Type: application/dtmf-relay'] });
    const info = await alice.waitRequest('INFO');
    alice.respond(info, 200, 'OK');
    await bob.waitStatus(200, 'INFO');
    alice.inDialog(dialog, 'BYE');
    const bye = await bob.waitRequest('BYE');
    bob.respond(bye, 200, 'OK');
    await alice.waitStatus(200, 'BYE');

    // survivors: registrations refresh, messages go through, among themselves and to the re-registered
    for (const u of survivors) {
      const rsp = await uas[u].sendRegister(null, uas[u].token);
      assert.equal(rsp.status, 200, `${u} refresh`);
    }
    for (const [from, to] of [[survivors[0], survivors.at(-1)], [survivors[1], orphans[0]], [orphans[0], survivors[0]]]) {
      uas[from].request('MESSAGE', `sip:${to}@ims.test`, { body: `hi ${to}`, contentType: 'text/plain' });
      const m = await uas[to].waitRequest('MESSAGE');
      assert.equal(m.body, `hi ${to}`);
      uas[to].respond(m, 200, 'OK');
      await uas[from].waitStatus(200, 'MESSAGE');
    }
    // nothing else happened to anyone: no surviving WebSocket closed, no stray request or error answer
    for (const u of survivors) assert.equal(closed[u], undefined, `${u}'s WebSocket`);
    for (const u of USERS) {
      assert.deepEqual(uas[u].requests.map((r) => r.start), [], `${u}: unexpected requests`);
      assert.deepEqual(uas[u].responses.filter((r) => r.status >= 300).map((r) => r.start), [], `${u}: error answers`);
    }
    const st = await haproxyStatus(topo);
    assert.match(st.gateways[victim], /DOWN/, 'HAProxy took the dead gateway out');
    for (const g of Object.keys(GATEWAYS).filter((x) => x !== victim))
      assert.doesNotMatch(topo.gateways[g].log, /ERROR|AddressSanitizer|runtime error/);
  });

test('killing one WAF: sign-in and refresh go on at the other through the balancer', { skip, timeout: 60000 },
  async () => {
    const waf = { issuer: topo.issuer, passwords: topo.passwords };
    const first = await wicTokens(waf, 'u1');
    assert.equal(first.status, 200, first.text);
    killed.add('waf1');
    await topo.wafs.waf1.kill('SIGKILL');
    // several in a row: round robin would send every other one to the dead replica
    let rt = first.json.refresh_token;
    for (let i = 0; i < 4; i++) {
      const r = await post(waf, '/token', { grant_type: 'refresh_token', refresh_token: rt, client_id: 'wic' });
      assert.equal(r.status, 200, `refresh ${i}: ${r.text}`);
      rt = r.json.refresh_token;
      const s = await wicTokens(waf, USERS[i + 1]);
      assert.equal(s.status, 200, `sign-in ${i}: ${s.text}`);
    }
    // and a token the surviving WAF issued opens a registration at a gateway
    const again = await wicTokens(waf, 'u9');
    const ua = uas.u9;
    const rsp = await ua.sendRegister(null, again.json.access_token);
    assert.equal(rsp.status, 200);
  });

test('the web client in Chromium: signed in and registered through the balancer; its gateway dies, and it is ' +
  'registered again on another one', { skip, timeout: 90000 }, async () => {
  // Chromium runs here, in the clients' namespace, as this process does; it trusts the test's
  // certificate authority by flag (it keeps its own store, not NODE_EXTRA_CA_CERTS)
  const browser = await launch(['--ignore-certificate-errors']);
  try {
    const page = await openPage(browser, WIC_USER);
    // every SIP message the page receives, to read which gateway (Path) registered it
    await page.addInitScript(() => {
      const Native = window.WebSocket;
      window.__sip = [];
      window.WebSocket = class extends Native {
        constructor(...a) {
          super(...a);
          this.addEventListener('message', (e) => { if (typeof e.data === 'string') window.__sip.push(e.data); });
        }
      };
    });
    /** The gateway named in the Path of the newest 200 to a REGISTER the page received. */
    const registeredAt = async () => {
      const msgs = await page.evaluate(() => window.__sip);
      const ok = msgs.filter((m) => /^SIP\/2\.0 200/.test(m) && /^CSeq: *\d+ REGISTER/mi.test(m)).at(-1);
      const m = ok && /^Path: *<sip:[^@>]*@([0-9.]+):/mi.exec(ok);
      return m && Object.keys(GATEWAYS).find((g) => GATEWAYS[g] === m[1]);
    };
    await signIn(page, { httpUrl: PAGE_URL, issuer: ISSUER }, WIC_USER, topo.passwords[WIC_USER]);
    const first = await registeredAt();
    assert.ok(first && !killed.has(first), `registered at a live gateway (${first})`);
    killed.add(first);
    const killedAt = Date.now();
    await topo.gateways[first].kill('SIGKILL');
    await expectText(page, 'reg-status', /^Connection lost; reconnecting/, 10000);
    await expectText(page, 'reg-status', /^Registered$/, 30000);
    const again = Date.now() - killedAt;
    await shot(page, 'scale-wic-registered-again');
    const second = await registeredAt();
    assert.ok(second && second !== first && !killed.has(second), `registered again at another gateway (${second})`);
    console.log(`# the web client was registered again at ${second} ${again} ms after ${first} died`);
    assert.ok(again < 20000, `registered again within its back-off (${again} ms)`);
    assert.doesNotMatch(page.log.join('\n'), /pageerror/);
  } finally {
    await browser.close();
  }
});
