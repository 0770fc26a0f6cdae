// Starts the real daemons (WAF, IMS stub, gateway) on free loopback ports, and gives tests a SIP
// over WebSocket client. Every wait is bounded; every process is stopped with SIGTERM and must
// exit 0 (under ASan that also means: no leak).
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';

export const BIN = process.env.IMSGW_BIN_DIR || path.resolve('build');
export const bin = (name) => {
  const dirs = { 'imsgw-gateway': 'gateway', 'imsgw-waf': 'waf', 'imsgw-ims-stub': 'ims-stub' };
  return path.join(BIN, dirs[name], name);
};

// Ports handed out by freePort and freePortRange: a port is not bound until its daemon starts, so
// later picks must not land on it (a stack picks four before it starts anything: the gateway's
// SIP port once came out equal to the WAF's and the gateway could not listen).
const reservedPorts = new Set();

// Picked below the kernel's ephemeral range (32768-60999): a port picked there can be taken by
// some client's outgoing connection before the daemon binds it, which load tests on the same
// machine (tens of thousands of loopback connections) make likely.
const PICK_FROM = 20000;
const PICK_TO = 32767;

export async function freePort() {
  for (let i = 0; i < 200; i++) {
    const p = PICK_FROM + crypto.randomInt(PICK_TO - PICK_FROM + 1);
    if (!reservedPorts.has(p) && (await portFree(p)) && !reservedPorts.has(p)) {
      reservedPorts.add(p);
      return p;
    }
  }
  throw new Error('no free port outside the reserved ranges');
}

/** A first port p with p … p+n-1 free on loopback (gateway workers take port + their number),
 * kept out of later freePort/freePortRange picks of this process. */
export async function freePortRange(n) {
  for (let i = 0; i < 100; i++) {
    const p = await freePort(); // reserved now, even when its neighbours are not free
    const rest = Array.from({ length: n - 1 }, (_, k) => p + k + 1);
    if (rest.some((q) => q > 65535 || reservedPorts.has(q)) ||
        !(await Promise.all(rest.map(portFree))).every(Boolean) ||
        rest.some((q) => reservedPorts.has(q))) { // (the last: picked meanwhile by a concurrent call)
      reservedPorts.delete(p);
      continue;
    }
    for (const q of rest) reservedPorts.add(q);
    return p;
  }
  throw new Error(`no ${n} free neighbouring ports`);
}

const portFree = (port) => new Promise((resolve) => {
  const s = net.createServer().once('error', () => resolve(false))
    .listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
});

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(check, what, timeoutMs = 20000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const tcpOpen = (port) =>
  new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });

/** GET url answers 200 (https: verified against the PEM ca). */
export const httpOk = (url, ca = null) =>
  new Promise((resolve) => {
    const req = (url.startsWith('https:') ? https : http).get(url, ca ? { ca } : {}, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.setTimeout(2000, () => req.destroy());
  });

/** A daemon whose stderr is kept for assertions. */
export class Daemon {
  // wrapper: a command that execs the daemon (e.g. prlimit), so the pid stays the daemon's
  constructor(name, args, wrapper = []) {
    // The gateway's default is one worker per core; a test that wants several says so.
    if (name === 'imsgw-gateway' && !args.includes('--workers')) args = ['--workers', '1', ...args];
    this.name = name;
    this.log = '';
    this.proc = wrapper.length
      ? spawn(wrapper[0], [...wrapper.slice(1), bin(name), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(bin(name), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout.on('data', (d) => { this.log += d; });
    this.proc.stderr.on('data', (d) => { this.log += d; });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, sig) => {
      // A daemon that dies on a signal or exits non-zero leaves its last words in the test output.
      if ((sig && sig !== 'SIGTERM' && sig !== 'SIGKILL') || code)
        process.stderr.write(`\n${name} ${sig ? `died on ${sig}` : `exited ${code}`}; its last log lines:\n${this.log.split('\n').slice(-25).join('\n')}\n`);
      resolve({ code, sig });
    }));
  }
  async stop() {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.exited;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
    const r = await this.exited;
    clearTimeout(timer);
    return r;
  }
}

let testDatabases = 0;
/**
 * The WAF's database flags: none (SQLite in the data dir) unless the suite runs under
 * tests/pg/with-pg.sh, which sets IMSGW_TEST_PG_HOST; then a new PostgreSQL database and the
 * key-encryption key file that seals the signing keys in it.
 */
export function testDatabaseArgs() {
  const host = process.env.IMSGW_TEST_PG_HOST;
  if (!host) return [];
  const name = `waf_${process.pid}_${++testDatabases}`;
  execFileSync('psql', ['-h', host, '-U', 'imsgw', '-d', 'postgres', '-qc', `CREATE DATABASE ${name}`],
    { timeout: 30000, stdio: ['ignore', 'pipe', 'pipe'] });
  const kek = path.join(host, `${name}.kek`);
  fs.writeFileSync(kek, `${crypto.randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  return ['--database', `postgresql:///${name}?host=${host}&user=imsgw`, '--key-encryption-key-file', kek];
}

/** Runs the WAF command-line tool against a data dir; returns stdout. */
export function wafCli(stack, args, input) {
  return execFileSync(bin('imsgw-waf'), [...stack.wafArgs, ...args], {
    input, encoding: 'utf8', timeout: 30000, stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/**
 * Starts WAF, IMS stub and gateway. gatewayArgs: extra gateway flags, or a function of the stack
 * returning them (for flags naming the free ports, e.g. the page's own origin). wafArgs: extra
 * flags for the WAF daemon only (e.g. --token-lifetime). The public client `wic` may also redirect
 * to the gateway's own page (httpUrl + '/'), as the web client served there does.
 */
export async function startStack({ gatewayArgs = [], stubArgs = [], users = ['alice', 'bob'], nativeUsers = [],
  wafArgs = [], tlsCa = null, gatewayWrapper = [], imsPasswords = {} } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imsgw-it-'));
  // the SIP port with room for a second worker (sip-listen's port + its number)
  const [wafPort, stubPort, gwPort, gwSipPort] = [await freePort(), await freePort(), await freePort(), await freePortRange(2)];
  const issuer = `http://127.0.0.1:${wafPort}`;
  const stack = {
    dir, wafPort, stubPort, gwPort, gwSipPort, issuer,
    // tlsCa (PEM): the gateway serves TLS (its flags name the certificate), trusted through it
    wsUrl: `${tlsCa ? 'wss' : 'ws'}://127.0.0.1:${gwPort}/sip`,
    httpUrl: `${tlsCa ? 'https' : 'http'}://127.0.0.1:${gwPort}`,
    tlsCa,
    // Cheap password hashing keeps the suite fast; the default cost is measured by make bench.
    wafArgs: ['--data-dir', path.join(dir, 'waf'), '--port', String(wafPort), '--issuer', issuer,
      '--argon2-t-cost', '1', '--argon2-m-cost-kib', '1024', ...testDatabaseArgs()],
    passwords: {},
  };
  // nativeUsers register directly at the stub with Digest (IMS-native clients, e.g. SIPp)
  // imsPasswords: users whose IMS Digest password the stub's HSS knows (ims-auth digest tests)
  const hss = [...users.map((u) => ({ impi: `${u}@ims.test`, impu: [`sip:${u}@ims.test`],
    ...(imsPasswords[u] ? { password: imsPasswords[u] } : {}) })),
    ...nativeUsers.map((u) => ({ impi: `${u}@ims.test`, impu: [`sip:${u}@ims.test`], password: `native-${u}-pw` }))];
  fs.writeFileSync(path.join(dir, 'hss.json'), JSON.stringify(hss));
  for (const u of users) {
    stack.passwords[u] = `pw-${u}-0123456789`;
    wafCli(stack, ['user', 'add', u, '--impu', `sip:${u}@ims.test`, '--password-stdin'], `${stack.passwords[u]}\n`);
  }
  // OAuth clients as make run provisions them: the WIC (public), the gateway (confidential, for
  // introspection and codes carried in REGISTER), and a confidential UA with opaque tokens.
  wafCli(stack, ['client', 'add', 'wic', '--public', '--redirect-uri', 'http://127.0.0.1:8080/',
    '--redirect-uri', 'http://localhost:8080/', '--redirect-uri', `${stack.httpUrl}/`]);
  stack.gatewaySecretFile = path.join(dir, 'gateway-secret');
  wafCli(stack, ['client', 'add', 'gateway', '--confidential', '--redirect-uri', 'http://127.0.0.1:8080/cb',
    '--secret-file', stack.gatewaySecretFile]);
  stack.uaSecret = wafCli(stack, ['client', 'add', 'phone', '--confidential', '--token-format', 'opaque',
    '--redirect-uri', 'https://phone.example/cb']).trim().split(' ').pop();
  stack.waf = new Daemon('imsgw-waf', [...stack.wafArgs, ...wafArgs]);
  /** Starts the IMS stub (again, after a fault test stopped it) on the same port. */
  stack.startStub = async () => {
    stack.stub = new Daemon('imsgw-ims-stub', ['--listen', `sip:127.0.0.1:${stubPort}`,
      '--hss-file', path.join(dir, 'hss.json'), ...stubArgs]);
    await waitFor(() => tcpOpen(stubPort), 'the IMS stub');
  };
  // A stack that fails to come up is stopped again, so the test fails now with the daemons' last
  // words instead of leaving them running until the runner's timeout.
  const started = () => [stack.gateway, stack.stub, stack.waf].filter(Boolean);
  try {
    await stack.startStub();
    await waitFor(async () => (await fetch(`${issuer}/healthz`).catch(() => null))?.ok, 'the WAF');
    const extraGatewayArgs = typeof gatewayArgs === 'function' ? gatewayArgs(stack) : gatewayArgs;
    stack.startGateway = async (moreArgs = []) => {
      stack.gateway = new Daemon('imsgw-gateway', ['--port', String(gwPort),
        '--sip-listen', `sip:127.0.0.1:${gwSipPort}`,
        '--next-hop', `sip:127.0.0.1:${stubPort};transport=tcp`,
        '--authz-server', issuer, '--waf-client-id', 'gateway',
        '--waf-client-secret-file', stack.gatewaySecretFile, ...extraGatewayArgs, ...moreArgs], gatewayWrapper);
      await waitFor(() => httpOk(`${stack.httpUrl}/healthz`, tlsCa), 'the gateway');
    };
    /** Stops the gateway (returns its exit) and starts it again on the same ports. */
    stack.restartGateway = async () => {
      const exit = await stack.gateway.stop();
      await stack.startGateway();
      return exit;
    };
    await stack.startGateway();
  } catch (e) {
    const logs = started().map((d) => `--- ${d.name}:\n${d.log.split('\n').slice(-15).join('\n')}`);
    await Promise.all(started().map((d) => d.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`${e.message}\n${logs.join('\n')}`);
  }
  stack.stop = async () => {
    const results = {};
    for (const d of [stack.gateway, stack.stub, stack.waf]) results[d.name] = await d.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    return results;
  };
  return stack;
}

/** An access token for user from the WAF's own signing key. */
export function token(stack, user, extra = []) {
  return wafCli(stack, ['token', user, ...extra]).trim();
}

/** Number of REGISTERs the stub logged so far. Its log line can arrive just after the response
 * it describes, so tests compare with stubRegistersReach() / stubRegisterCountSettled(). */
export const stubRegisterCount = (stack) => (stack.stub.log.match(/register aor=/g) || []).length;
/** Waits (bounded) until the stub has logged at least n REGISTERs; returns the count. */
export async function stubRegistersReach(stack, n, timeoutMs = 3000) {
  const until = Date.now() + timeoutMs;
  while (stubRegisterCount(stack) < n && Date.now() < until) await sleep(20);
  return stubRegisterCount(stack);
}
/** The count once late log lines had time to arrive (for "nothing reached the stub"). */
export async function stubRegisterCountSettled(stack) {
  await sleep(200);
  return stubRegisterCount(stack);
}

/** A SIP-over-WebSocket client with a queue of received messages. */
export class SipWs {
  static async open(url, protocols = 'sip', opts = {}) {
    const c = new SipWs();
    c.ws = new WebSocket(url, protocols, opts);
    c.queue = [];
    c.waiters = [];
    c.ws.on('message', (d) => {
      const w = c.waiters.shift();
      if (w) w(d.toString()); else c.queue.push(d.toString());
    });
    c.closed = new Promise((resolve) => c.ws.on('close', (code) => resolve(code)));
    await new Promise((resolve, reject) => {
      c.ws.on('open', resolve);
      c.ws.on('error', reject);
      c.ws.on('unexpected-response', (req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    return c;
  }
  send(text) { this.ws.send(text); }
  next(timeoutMs = 5000) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    return new Promise((resolve, reject) => {
      const waiter = (m) => { clearTimeout(t); resolve(m); };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error('no SIP message within timeout'));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }
  async request(text, timeoutMs) {
    this.send(text);
    return parseSip(await this.next(timeoutMs));
  }
  close() { this.ws.close(); }
}

/** Splits a SIP message into start line, headers (lower-case name → values) and body. */
export function parseSip(text) {
  const [head, ...rest] = text.split('\r\n\r\n');
  const lines = head.split('\r\n');
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    const name = l.slice(0, i).trim().toLowerCase();
    (headers[name] ||= []).push(l.slice(i + 1).trim());
  }
  const m = /^SIP\/2\.0 (\d{3})/.exec(lines[0]);
  const branch = (/;branch=([^;\s]+)/.exec(headers.via?.[0] || '') || [])[1];
  return { text, start: lines[0], status: m ? Number(m[1]) : null, headers, branch, body: rest.join('\r\n\r\n') };
}

let branchSeq = 0;
/** A WIC REGISTER like spec T2/T3. */
export function registerMsg({ user = 'alice', to = user, cseq = 1, callId = `reg-${user}-${process.pid}`,
  auth = null, expires = 600, supported = 'path, outbound, gruu', extra = [] } = {}) {
  const host = 'q7k2m9x4.invalid';
  const lines = [
    'REGISTER sip:ims.test SIP/2.0',
    `Via: SIP/2.0/WS ${host};branch=z9hG4bK-wic-${process.pid}-${++branchSeq}`,
    'Max-Forwards: 70',
    `From: <sip:${to}@ims.test>;tag=wtag${branchSeq}`,
    `To: <sip:${to}@ims.test>`,
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} REGISTER`,
    `Contact: <sip:k3v9@${host};transport=ws>;+sip.instance="<urn:uuid:5f0c9a7e-3b1d-4c2e-9a51-0e8f6b2d7c11>";reg-id=1`,
  ];
  if (supported) lines.push(`Supported: ${supported}`);
  if (auth) lines.push(`Authorization: ${auth}`);
  lines.push(`Expires: ${expires}`, ...extra);
  return lines.join('\r\n') + '\r\n\r\n';
}

/** The stub's test hook: network-initiated de-registration of aor. */
export async function stubDeregister(port, aor) {
  return stubHook(port, [`X-Stub-Deregister: ${aor}`]);
}

/** The stub's test hook: the registrar shortens aor's registration to seconds. */
export async function stubShorten(port, aor, seconds) {
  return stubHook(port, [`X-Stub-Shorten: ${aor}`, `X-Stub-Expires: ${seconds}`]);
}

async function stubHook(port, headers) {
  const sock = dgram.createSocket('udp4');
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  const text = [`OPTIONS sip:127.0.0.1:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${sock.address().port};rport;branch=z9hG4bK-admin-${Date.now()}`,
    'Max-Forwards: 70', '<sip:admin@127.0.0.1>;tag=adm'.replace(/^/, 'From: '), `To: <sip:127.0.0.1:${port}>`,
    `Call-ID: admin-${Date.now()}`, 'CSeq: 1 OPTIONS', ...headers, 'Content-Length: 0', '', ''].join('\r\n');
  const reply = new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('stub did not answer its test hook')), 3000);
    sock.on('message', (m) => { clearTimeout(t); resolve(m.toString()); });
  });
  sock.send(text, port, '127.0.0.1');
  try { return await reply; } finally { sock.close(); }
}
