// The long run of the scale-out topology (bench/scale-out-bench.sh, make bench): CLIENTS WebSocket
// clients (default 3000) register through HAProxy over the three gateways; then one gateway is
// killed and its clients reconnect (each after a random back-off of 0-BACKOFF_MS) and register
// again through the balancer; then refresh-token rotations through the balancer over the two WAFs.
// Prints one report; exits 1 if any registration failed. Every phase is bounded.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import WebSocket from 'ws';
import { bin, registerMsg, parseSip, sleep } from '../integration/harness.mjs';
import { wicTokens, post } from '../integration/waf-helpers.mjs';
import { inNetns, startTopology, stopTopology, haproxyStatus, GATEWAYS, WS_URL } from './topology.mjs';

if (!inNetns) {
  console.error('run through tests/scale/netns.sh');
  process.exit(2);
}
const CLIENTS = Number(process.env.CLIENTS || 3000);
const USERS = Math.min(100, CLIENTS);
const BACKOFF_MS = Number(process.env.BACKOFF_MS || 5000);
const CONCURRENCY = 200; // handshakes + REGISTERs in flight at once, as a crowd arriving
const ROTATIONS = Number(process.env.ROTATIONS || 500);

const users = Array.from({ length: USERS }, (_, i) => `b${i}`);
const topo = await startTopology({ users, gatewayArgs: ['--max-connections-per-source', String(CLIENTS * 2),
  '--token-cache-size', String(USERS * 2)] });
const tokens = {};
for (const u of users)
  tokens[u] = execFileSync(bin('imsgw-waf'), [...topo.wafArgs, 'token', u], { encoding: 'utf8', timeout: 30000 }).trim();

/** One client: its own WebSocket and +sip.instance; register() resolves with the status. */
class Client {
  constructor(i) {
    this.user = users[i % USERS];
    this.instance = crypto.randomUUID();
    this.callId = `bench-${i}-${process.pid}`;
    this.cseq = 0;
  }
  register() {
    return new Promise((resolve) => {
      const ws = new WebSocket(WS_URL, 'sip');
      this.ws = ws;
      const done = (r) => { clearTimeout(t); resolve(r); };
      const t = setTimeout(() => { ws.terminate(); done({ status: 'timeout' }); }, 30000);
      ws.on('error', (e) => done({ status: `ws ${e.code || e.message}` }));
      ws.on('open', () => ws.send(registerMsg({ user: this.user, callId: this.callId, cseq: ++this.cseq,
        auth: `Bearer ${tokens[this.user]}` }).replace(/\+sip\.instance="<urn:uuid:[^>]*>"/,
        `+sip.instance="<urn:uuid:${this.instance}>"`)));
      ws.on('message', (d) => {
        const m = parseSip(d.toString());
        if (m.status && m.status >= 200) {
          this.gateway = Object.keys(GATEWAYS).find((g) => (m.headers.path?.[0] || '').includes(`@${GATEWAYS[g]}:`));
          done({ status: m.status });
        }
      });
      this.closed = new Promise((r) => ws.on('close', r));
    });
  }
}

/** Runs f over items, at most n at once; returns the results in order. */
async function pool(items, n, f) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) { const i = next++; out[i] = await f(items[i], i); }
  }));
  return out;
}
const tally = (rs) => rs.reduce((a, r) => ({ ...a, [r.status]: (a[r.status] || 0) + 1 }), {});
const kib = (pid) => {
  try { return Number(/^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))[1]); } catch { return NaN; }
};

const report = [];
const say = (s) => { report.push(s); console.log(s); };
let failed = false;
try {
  const idle = Object.fromEntries(Object.entries(topo.gateways).map(([g, p]) => [g, kib(p.proc.pid)]));
  const clients = Array.from({ length: CLIENTS }, (_, i) => new Client(i));
  let t0 = Date.now();
  const stormRetried = [];
  const first = await pool(clients, CONCURRENCY, async (c) => {
    let r = await c.register();
    for (let attempt = 1; attempt < 3 && r.status !== 200; attempt++) {
      stormRetried.push(r);
      await sleep(Math.random() * BACKOFF_MS);
      r = await c.register();
    }
    return r;
  });
  const storm = (Date.now() - t0) / 1000;
  const per = {};
  for (const c of clients) per[c.gateway] = (per[c.gateway] || 0) + 1;
  say(`registration storm: ${CLIENTS} clients (${USERS} users) through HAProxy in ${storm.toFixed(1)} s ` +
    `= ${(CLIENTS / storm).toFixed(0)}/s, ${CONCURRENCY} in flight; final answers ${JSON.stringify(tally(first))}; ` +
    `failed attempts retried ${JSON.stringify(tally(stormRetried))}; ` +
    `per gateway ${JSON.stringify(per)}`);
  failed ||= first.some((r) => r.status !== 200);
  await sleep(1000);
  for (const [g, p] of Object.entries(topo.gateways)) {
    const k = kib(p.proc.pid);
    say(`  ${g}: PSS ${(k / 1024).toFixed(1)} MiB with ${per[g] || 0} registered flows ` +
      `(${per[g] ? ((k - idle[g]) / per[g]).toFixed(1) : '-'} KiB each over its idle ${(idle[g] / 1024).toFixed(1)} MiB)`);
  }
  const hp = topo.procs.find((p) => p.name === 'haproxy');
  say(`  haproxy: PSS ${(kib(hp.proc.pid) / 1024).toFixed(1)} MiB for ${CLIENTS} client + ${CLIENTS} server connections`);

  // one gateway dies: its clients come back after a random back-off
  const victim = 'gw3';
  const orphans = clients.filter((c) => c.gateway === victim);
  t0 = Date.now();
  await topo.gateways[victim].kill('SIGKILL');
  // a client whose attempt fails tries again after another back-off, as a real one does (at most 3)
  const retried = [];
  const again = await Promise.all(orphans.map(async (c) => {
    await c.closed;
    let r;
    for (let attempt = 0; attempt < 3; attempt++) {
      await sleep(Math.random() * BACKOFF_MS);
      r = await c.register();
      if (r.status === 200) break;
      retried.push(r.status);
    }
    return r;
  }));
  const recovery = (Date.now() - t0) / 1000;
  const moved = {};
  for (const c of orphans) moved[c.gateway] = (moved[c.gateway] || 0) + 1;
  say(`gateway ${victim} killed with ${orphans.length} flows: all back in ${recovery.toFixed(1)} s ` +
    `(back-off 0-${BACKOFF_MS / 1000} s each); final answers ${JSON.stringify(tally(again))}; ` +
    `failed attempts retried ${JSON.stringify(tally(retried.map((status) => ({ status }))))}; now on ${JSON.stringify(moved)}`);
  failed ||= again.some((r) => r.status !== 200);
  const st = await haproxyStatus(topo);
  say(`  HAProxy sees ${victim} ${st.gateways?.[victim]}`);

  // WAF: refresh-token rotations through the balancer, split over both replicas
  const waf = { issuer: topo.issuer, passwords: topo.passwords };
  const chains = await Promise.all(users.slice(0, 20).map((u) => wicTokens(waf, u)));
  t0 = Date.now();
  const statuses = {};
  const wafErrors = [];
  await Promise.all(chains.map(async (c) => {
    let rt = c.json.refresh_token;
    for (let i = 0; i < ROTATIONS / chains.length; i++) {
      let r;
      // 503 + Retry-After: the replica's write lock was busy, nothing was written (docs/waf.md)
      for (let attempt = 0; attempt < 5; attempt++) {
        r = await post(waf, '/token', { grant_type: 'refresh_token', refresh_token: rt, client_id: 'wic' });
        statuses[r.status] = (statuses[r.status] || 0) + 1;
        if (r.status !== 503) break;
        await sleep(200 + Math.random() * 800);
      }
      if (r.status !== 200) { wafErrors.push(`${r.status} ${r.text.slice(0, 120)}`); break; }
      rt = r.json.refresh_token;
    }
  }));
  const rot = (Date.now() - t0) / 1000;
  say(`WAF: ${ROTATIONS} refresh rotations (20 chains at once) through HAProxy over 2 replicas in ` +
    `${rot.toFixed(1)} s = ${(ROTATIONS / rot).toFixed(0)}/s; answers ${JSON.stringify(statuses)} (503s retried)`);
  if (wafErrors.length) say(`  chains ended by: ${[...new Set(wafErrors)].join('; ')}`);
  failed ||= wafErrors.length > 0;
  for (const c of clients) c.ws?.terminate();
} catch (e) {
  console.error(e);
  failed = true;
} finally {
  await stopTopology(topo);
}
process.exit(failed ? 1 : 0);
