// Soak (issue 9, `make soak`, not part of `make test`): WAF + IMS stub + gateway of one build, and
// thousands of SIP-over-WebSocket clients that register, message, call and reconnect (~10 % of
// them drop their connection each minute, some in the middle of a call) for SOAK_SECONDS. The
// gateway's, the stub's and the WAF's open fds and RSS and the gateway's transactions and dialogs
// are taken after warm-up and again once the load stopped; the soak fails when they did not come
// back. Loopback only; every wait is bounded; the run stops by itself.
//
// Settings (environment): SOAK_SECONDS (600), SOAK_CLIENTS (2000), SOAK_WARMUP_SECONDS (20),
// SOAK_OPS_PER_CLIENT_MIN (3: each client's messages + calls + re-REGISTERs per minute),
// SOAK_FLAP_PER_MIN (0.10), IMSGW_BIN_DIR (build).
import { spawn, execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { bin, freePort, sleep, SipWs, parseSip, registerMsg } from '../integration/harness.mjs';
import { Ua, SDP, splitList } from '../integration/sipua.mjs';

const env = (k, d) => (process.env[k] ? Number(process.env[k]) : d);
const SECONDS = env('SOAK_SECONDS', 600);
const CLIENTS = env('SOAK_CLIENTS', 2000);
const WARMUP = env('SOAK_WARMUP_SECONDS', 20);
const OPS_PER_MIN = env('SOAK_OPS_PER_CLIENT_MIN', 3);
const FLAP_PER_MIN = env('SOAK_FLAP_PER_MIN', 0.10);
const OP_TIMEOUT_MS = 15000;
const run = promisify(execFile);
const log = (...a) => console.log(new Date().toISOString().slice(11, 19), ...a);
const hardStop = setTimeout(() => { console.error('soak: hard time limit reached'); process.exit(3); },
  (SECONDS + WARMUP + 900) * 1000);
hardStop.unref();

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imsgw-soak-'));
const stats = { register: [0, 0], message: [0, 0], call: [0, 0], bye: [0, 0], flaps: 0, midCallFlaps: 0 };
const count = (what, ok) => { stats[what][ok ? 0 : 1]++; };
const procs = {};

function daemon(name, args) {
  const out = fs.openSync(path.join(dir, `${name}.log`), 'w');
  const p = spawn(bin(name), args, { stdio: ['ignore', out, out] });
  p.exited = new Promise((resolve) => p.on('exit', (code, sig) => resolve({ code, sig })));
  procs[name] = p;
  return p;
}
async function until(check, what, ms = 20000) {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (await check().catch(() => false)) return; await sleep(100); }
  throw new Error(`timed out waiting for ${what}`);
}

/** Limited parallelism for the CLI calls of the setup. */
async function pool(items, n, fn) {
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => { while (i < items.length) await fn(items[i++]); }));
}

// ---------------------------------------------------------------- the stack
const [wafPort, stubPort, gwPort, gwSip] = [await freePort(), await freePort(), await freePort(), await freePort()];
const issuer = `http://127.0.0.1:${wafPort}`;
const wafArgs = ['--data-dir', path.join(dir, 'waf'), '--port', String(wafPort), '--issuer', issuer,
  '--argon2-t-cost', '1', '--argon2-m-cost-kib', '1024'];
const users = Array.from({ length: CLIENTS }, (_, i) => `soak${i}`);
log(`setup: ${CLIENTS} users and tokens at the WAF (its CLI), data in ${dir}`);
const tokens = {};
await pool(users, 4, async (u) => {
  const p = spawn(bin('imsgw-waf'), [...wafArgs, 'user', 'add', u, '--impu', `sip:${u}@ims.test`, '--password-stdin'],
    { stdio: ['pipe', 'ignore', 'ignore'] });
  p.stdin.end(`pw-${u}-0123456789\n`);
  if ((await new Promise((r) => p.on('exit', r))) !== 0) throw new Error(`user add ${u} failed`);
  tokens[u] = (await run(bin('imsgw-waf'), [...wafArgs, 'token', u, '--lifetime', String(SECONDS + WARMUP + 3600)])).stdout.trim();
});
fs.writeFileSync(path.join(dir, 'hss.json'), JSON.stringify(users.map((u) => ({ impi: `${u}@ims.test`, impu: [`sip:${u}@ims.test`] }))));
daemon('imsgw-waf', wafArgs);
daemon('imsgw-ims-stub', ['--listen', `sip:127.0.0.1:${stubPort}`, '--hss-file', path.join(dir, 'hss.json'),
  '--max-bindings', String(CLIENTS * 4)]);
await until(async () => (await fetch(`${issuer}/healthz`)).ok, 'the WAF');
daemon('imsgw-gateway', ['--workers', '1', '--port', String(gwPort), '--sip-listen', `sip:127.0.0.1:${gwSip}`,
  '--next-hop', `sip:127.0.0.1:${stubPort};transport=tcp`, '--authz-server', issuer,
  '--max-connections', String(CLIENTS + 500), '--max-connections-per-source', String(CLIENTS + 500),
  '--token-cache-size', String(CLIENTS * 2)]);
const gwUrl = `http://127.0.0.1:${gwPort}`;
await until(async () => (await fetch(`${gwUrl}/healthz`)).ok, 'the gateway');

async function metrics() {
  const text = await (await fetch(`${gwUrl}/metrics`)).text();
  const m = {};
  for (const l of text.split('\n')) { const x = /^(imsgw_[a-z_]+) ([0-9.e+]+)$/.exec(l); if (x) m[x[1]] = Number(x[2]); }
  return m;
}
function resources() {
  const r = {};
  for (const [name, p] of Object.entries(procs)) {
    const status = fs.readFileSync(`/proc/${p.pid}/status`, 'utf8');
    r[name] = { fds: fs.readdirSync(`/proc/${p.pid}/fd`).length, rssKiB: Number(/VmRSS:\s+(\d+)/.exec(status)[1]) };
  }
  return r;
}
async function snapshot() {
  const m = await metrics();
  const queues = Object.fromEntries(Object.entries(m).filter(([k]) => /queue/.test(k)));
  return { at: new Date().toISOString(), ...resources(), transactions: m.imsgw_proxy_transactions, dialogs: m.imsgw_dialogs,
    connections: m.imsgw_ws_connections, registrations: m.imsgw_registrations, queues };
}

// ---------------------------------------------------------------- the clients
/** One user's browser: registers, answers everything it is sent, and does what run() asks. */
class Client extends Ua {
  constructor(user) {
    super();
    Object.assign(this, { user, aor: `sip:${user}@ims.test`, calls: new Map(), ringing: new Map(), unacked: new Map(), cseq: 1 });
  }

  async connect() {
    if (this.connecting) return false;
    this.connecting = true;
    try { return await this.connectOnce(); } finally { this.connecting = false; }
  }

  async connectOnce() {
    this.host = `${crypto.randomBytes(5).toString('hex')}.invalid`;
    this.contact = `<sip:${this.user}@${this.host};transport=ws;ob>`;
    this.instance ||= crypto.randomUUID();
    this.waiters = [];
    this.responses = [];
    this.requests = [];
    const ws = await SipWs.open(`ws://127.0.0.1:${gwPort}/sip`);
    this.ws = ws;
    ws.ws.removeAllListeners('message');
    ws.ws.on('message', (d) => this.onMessage(d.toString()));
    ws.ws.on('error', () => {});
    ws.ws.on('close', () => {
      if (this.ws !== ws) return; // an older connection of this client
      this.up = false;
      this.calls.clear();
      for (const { t } of this.ringing.values()) clearTimeout(t);
      this.ringing.clear();
      for (const t of this.unacked.values()) clearTimeout(t);
      this.unacked.clear();
    });
    const ok = await this.register();
    this.up = ok;
    return ok;
  }

  async register() {
    this.send(registerMsg({ user: this.user, callId: `reg-${this.host}`, cseq: this.cseq++, auth: `Bearer ${tokens[this.user]}` })
      .replace(/Contact: [^\r]*/, `Contact: ${this.contact};+sip.instance="<urn:uuid:${this.instance}>";reg-id=1`));
    const r = await this.waitResponse((x) => / REGISTER$/.test(x.headers.cseq[0]), OP_TIMEOUT_MS).catch(() => null);
    this.serviceRoute = splitList(r?.headers['service-route']);
    count('register', r?.status === 200);
    if (r?.status === 200) this.registeredAt = Date.now();
    return r?.status === 200;
  }

  onMessage(text) {
    if (text === '\r\n') return;
    const m = parseSip(text);
    if (m.status) {
      super.onMessage(text); // acknowledges a failed INVITE, hands the response to its waiter
      this.responses.length = 0; // a response no waiter wanted is dropped: the list must not grow
      return;
    }
    this.answer(m);
  }

  send(text) { if (this.ws.ws.readyState === 1) this.ws.send(text); }

  /** The callee side: MESSAGE 200; INVITE 180 then 200; BYE 200; CANCEL 200 + 487. */
  answer(req) {
    const method = req.start.split(' ')[0];
    const callId = req.headers['call-id'][0];
    if (method === 'ACK') {
      clearTimeout(this.unacked.get(callId));
      this.unacked.delete(callId);
      return;
    }
    if (method === 'INVITE') {
      this.respond(req, 180, 'Ringing');
      const t = setTimeout(() => {
        this.ringing.delete(callId);
        const d = this.respond(req, 200, 'OK', { body: SDP(this.user), toTag: req.toTag });
        this.calls.set(d.callId, d); // the caller hangs up
        // RFC 3261 §13.3.1.4: a 2xx never acknowledged (the caller vanished meanwhile) ends the
        // session with BYE; 10 s instead of 64*T1 keeps the soak's tail short
        this.unacked.set(callId, setTimeout(() => { this.unacked.delete(callId); this.hangUp(callId); }, 10000));
      }, 100 + Math.random() * 400);
      this.ringing.set(callId, { req, t });
      return;
    }
    if (method === 'CANCEL') {
      this.respond(req, 200, 'OK');
      const r = this.ringing.get(callId);
      if (r) { clearTimeout(r.t); this.ringing.delete(callId); this.respond(r.req, 487, 'Request Terminated'); }
      return;
    }
    if (method === 'BYE') this.calls.delete(req.headers['call-id'][0]);
    this.respond(req, 200, 'OK');
  }

  async hangUp(callId) {
    const d = this.calls.get(callId);
    if (!d || !this.up) return;
    this.calls.delete(callId);
    this.inDialog(d, 'BYE');
    const r = await this.waitResponse((x) => x.headers['call-id'][0] === callId && / BYE$/.test(x.headers.cseq[0]), OP_TIMEOUT_MS).catch(() => null);
    count('bye', r?.status === 200);
  }

  async message(to) {
    const tx = this.request('MESSAGE', `sip:${to}@ims.test`, { body: `soak ${Date.now()}`, contentType: 'text/plain' });
    const r = await this.waitResponse((x) => x.headers['call-id'][0] === tx.callId && x.status >= 200, OP_TIMEOUT_MS).catch(() => null);
    delete this.sent[tx.branch];
    count('message', r?.status === 200);
  }

  async call(to) {
    const tx = this.request('INVITE', `sip:${to}@ims.test`, { body: SDP(this.user) });
    const r = await this.waitResponse((x) => x.headers['call-id'][0] === tx.callId && x.status >= 200, OP_TIMEOUT_MS).catch(() => null);
    setTimeout(() => { delete this.sent[tx.branch]; }, 1000);
    count('call', r?.status === 200);
    if (r?.status !== 200) return;
    const d = this.dialogFrom(tx, r);
    this.inDialog(d, 'ACK');
    this.calls.set(d.callId, d);
    setTimeout(() => this.hangUp(d.callId), 1000 + Math.random() * 4000);
  }

  /** Drops the connection without a goodbye (as a browser tab that dies), maybe mid-call. */
  flap() {
    stats.flaps++;
    if (this.calls.size) stats.midCallFlaps++;
    this.up = false;
    this.ws.ws.terminate();
  }
}

const clients = users.map((u) => new Client(u));
log(`connecting ${CLIENTS} clients`);
await pool(clients, 50, async (c) => { await c.connect().catch(() => false); });
const upCount = () => clients.filter((c) => c.up).length;
log(`${upCount()} clients registered; warm-up ${WARMUP} s`);

let running = true;
async function activity(c) {
  while (running) {
    await sleep((60000 / OPS_PER_MIN) * (0.5 + Math.random()));
    if (!running || !c.up) continue;
    // a browser refreshes its registration (600 s asked) well before it lapses
    if (Date.now() - c.registeredAt > 240000 && !(await c.register())) {
      c.flap(); // re-REGISTER refused: start again on a new connection
      stats.flaps--;
      setTimeout(() => c.connect().catch(() => {}), 1000);
      continue;
    }
    const peer = clients[Math.floor(Math.random() * clients.length)];
    if (peer === c || !peer.up) continue;
    const dice = Math.random();
    if (dice < 0.5) await c.message(peer.user);
    else if (dice < 0.85) await c.call(peer.user);
    else await c.register();
  }
}
async function flapper() {
  while (running) {
    await sleep(6000); // every 6 s a tenth of the minute's share: ~FLAP_PER_MIN per minute
    for (const c of clients) {
      if (!running || !c.up || Math.random() >= FLAP_PER_MIN / 10) continue;
      c.flap();
      setTimeout(() => c.connect().catch(() => {}), Math.random() * 5000);
    }
  }
}

await sleep(WARMUP * 1000);
const start = await snapshot();
log('start', JSON.stringify(start));
const t0 = Date.now();
const loops = [...clients.map(activity), flapper()];
const progress = setInterval(async () => {
  log(`t=${Math.round((Date.now() - t0) / 1000)} s up=${upCount()}`, JSON.stringify(stats), JSON.stringify(await snapshot().catch(() => null)));
}, 60000);
await sleep(SECONDS * 1000);
running = false;
clearInterval(progress);
log('load stopped; letting calls end and flapped clients come back');
await Promise.race([Promise.all(loops), sleep(OP_TIMEOUT_MS + 5000)]);
await until(async () => {
  await pool(clients.filter((c) => !c.up && !c.connecting), 50, (c) => c.connect().catch(() => false));
  const m = await metrics();
  return upCount() === CLIENTS && m.imsgw_registrations === CLIENTS && m.imsgw_proxy_transactions === 0 &&
    m.imsgw_dialogs === 0;
}, 'every client registered again and transactions and dialogs at 0', 60000).catch((e) => log(e.message));
await sleep(2000);
const end = await snapshot();
log('end', JSON.stringify(end));

// ---------------------------------------------------------------- verdict
const problems = [];
for (const name of Object.keys(procs)) {
  const [a, b] = [start[name], end[name]];
  if (b.fds > a.fds + 5) problems.push(`${name}: open fds ${a.fds} -> ${b.fds}`);
  if (b.rssKiB > a.rssKiB * 1.25 + 16384) problems.push(`${name}: RSS ${a.rssKiB} -> ${b.rssKiB} KiB`);
}
for (const k of ['transactions', 'dialogs']) if (end[k] !== start[k]) problems.push(`${k}: ${start[k]} -> ${end[k]}`);
for (const k of ['connections', 'registrations']) if (end[k] !== start[k]) problems.push(`${k}: ${start[k]} -> ${end[k]}`);
for (const [k, v] of Object.entries(end.queues)) if (v > (start.queues[k] || 0)) problems.push(`${k}: ${start.queues[k]} -> ${v}`);
const ops = stats.message[0] + stats.call[0] + stats.bye[0] + stats.register[0];
if (ops === 0) problems.push('no operation succeeded');

// all clients gone: the gateway is back to no connection, no registration
for (const c of clients) c.ws.ws.terminate();
await until(async () => (await metrics()).imsgw_ws_connections === 0, 'connections to close', 30000).catch((e) => problems.push(e.message));
const closed = await snapshot();
log('all clients closed', JSON.stringify(closed));
if (closed.registrations !== 0) problems.push(`registrations after every client closed: ${closed.registrations}`);

const exits = {};
for (const [name, p] of Object.entries(procs)) {
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 15000);
  exits[name] = await p.exited;
  clearTimeout(t);
  if (exits[name].code !== 0) problems.push(`${name} exited ${JSON.stringify(exits[name])}`);
}
const summary = { seconds: SECONDS, clients: CLIENTS, warmup: WARMUP, opsPerClientMin: OPS_PER_MIN, flapPerMin: FLAP_PER_MIN,
  stats, start, end, closed, exits, problems };
fs.writeFileSync(process.env.SOAK_SUMMARY || '/tmp/imsgw-soak-summary.json', JSON.stringify(summary, null, 2));
log('summary', JSON.stringify({ stats, problems }));
if (problems.length) {
  log(`SOAK FAILED; logs kept in ${dir}`);
  process.exit(1);
}
fs.rmSync(dir, { recursive: true, force: true });
log('SOAK PASSED');
process.exit(0);
