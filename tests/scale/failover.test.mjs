// Issue 15 / field.md checklist 79, on several hosts (tests/scale/netns.sh): HAProxy in front of
// three gateways (TCP, PROXY v2) and two WAFs (HTTP) on one PostgreSQL. Killing a gateway leaves
// the other gateways' users untouched and its own users register again through the balancer;
// killing a WAF leaves sign-in and refresh working.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { sleep } from '../integration/harness.mjs';
import { Ua, SDP } from '../integration/sipua.mjs';
import { wicTokens, post } from '../integration/waf-helpers.mjs';
import { inNetns, startTopology, stopTopology, haproxyStatus, gatewayOf, GATEWAYS, CLIENT, LB } from './topology.mjs';

const USERS = Array.from({ length: 9 }, (_, i) => `u${i + 1}`);
// the clients' reconnect back-off after a lost WebSocket (JsSIP's first retry is about 2 s)
const BACKOFF_MS = 2000;
let topo;
const uas = {};

before(async () => {
  if (!inNetns) return;
  topo = await startTopology({ users: USERS });
  for (const u of USERS) uas[u] = await Ua.register(topo, u);
}, { timeout: 90000 });

after(async () => {
  if (!topo) return;
  for (const ua of Object.values(uas)) ua.ws?.ws?.terminate();
  const results = await stopTopology(topo);
  for (const [host, r] of Object.entries(results)) {
    const proc = topo.procs.find((p) => p.host === host);
    // HAProxy ends on SIGTERM by the signal; the killed daemons by SIGKILL
    if (host === topo.killedGateway || host === topo.killedWaf || !proc.name.startsWith('imsgw')) continue;
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

    topo.killedGateway = victim;
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
    topo.killedWaf = 'waf1';
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
