// The scale-out topology of docs/scale-out.md, started inside the namespaces tests/scale/netns.sh
// made (this process runs on the clients' host): HAProxy, three gateways, two WAFs on the one
// PostgreSQL, the IMS stub. Every process it starts is recorded in $IMSGW_SCALE_DIR/pids, so the
// script's trap kills it even if this process dies first.
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { bin, sleep, httpOk } from '../integration/harness.mjs';

const NS = process.env.IMSGW_SCALE_NS;
const DIR = process.env.IMSGW_SCALE_DIR;
const PG = process.env.IMSGW_SCALE_PG;
export const inNetns = Boolean(NS && DIR && PG);

export const LB = '10.99.0.2';
export const GATEWAYS = { gw1: '10.99.0.3', gw2: '10.99.0.4', gw3: '10.99.0.5' };
export const WAFS = { waf1: '10.99.0.6', waf2: '10.99.0.7' };
export const IMS = '10.99.0.9';
export const CLIENT = '10.99.0.10';
export const ISSUER = `https://${LB}:8443`; // HAProxy terminates TLS (tests/scale/netns.sh)
export const WS_URL = `wss://${LB}:8080/sip`; // TLS to the gateways, through HAProxy's TCP mode
export const PAGE_URL = `https://${LB}:8080`; // the web client, served by whichever gateway

/** A process in host's namespace; its output kept (bounded) for assertions and post-mortems. */
class Proc {
  constructor(host, name, argv) {
    this.host = host;
    this.name = name;
    this.log = '';
    this.proc = spawn('ip', ['netns', 'exec', `${NS}-${host}`, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    fs.appendFileSync(path.join(DIR, 'pids'), `${this.proc.pid}\n`); // ip execs: the pid is the daemon's
    const keep = (d) => { this.log = (this.log + d).slice(-400000); };
    this.proc.stdout.on('data', keep);
    this.proc.stderr.on('data', keep);
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, sig) => resolve({ code, sig })));
  }
  get running() { return this.proc.exitCode === null && this.proc.signalCode === null; }
  /** The host dies: the daemon and its children (a gateway's workers, which would outlive it). */
  kill(sig = 'SIGKILL') {
    const children = [];
    try {
      for (const t of fs.readdirSync(`/proc/${this.proc.pid}/task`))
        children.push(...fs.readFileSync(`/proc/${this.proc.pid}/task/${t}/children`, 'utf8').split(' ').filter(Boolean));
    } catch { /* gone already */ }
    this.proc.kill(sig);
    for (const c of children) try { process.kill(Number(c), sig); } catch { /* gone */ }
    return this.exited;
  }
  async stop() {
    if (!this.running) return this.exited;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
    const r = await this.exited;
    clearTimeout(t);
    return r;
  }
  tail(n = 20) { return `--- ${this.host} (${this.name}):\n${this.log.split('\n').slice(-n).join('\n')}`; }
}

async function waitFor(check, what, timeoutMs = 30000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function haproxyConfig(sock) {
  const gws = Object.entries(GATEWAYS).map(([n, a]) => `  server ${n} ${a}:8080`).join('\n');
  const wafs = Object.entries(WAFS).map(([n, a]) => `  server ${n} ${a}:8000`).join('\n');
  return `global
  maxconn 9000
  stats socket ${sock} mode 600 level admin
defaults
  timeout connect 2s
  timeout client 1h
  timeout server 1h
  timeout tunnel 1h
  timeout check 2s
  retries 3
  # a connection that finds its server dead is retried at once on another one (redispatch on
  # every retry; the balancing algorithm avoids the server that failed): with leastconn the dead
  # gateway, having no connections left, is every reconnecting client's first choice until its
  # checks fail (a second); without this, those connections are reset after the retries
  option redispatch 1
# WebSockets: TCP, TLS passes through to the gateways (they hold the certificate); each connection
# to a gateway starts with a PROXY v2 header (the client's address), before the TLS handshake;
# health checks GET /healthz over TLS, themselves behind a PROXY header (LOCAL), as the gateway
# requires one on every connection from here.
frontend ws
  mode tcp
  bind ${LB}:8080
  default_backend gateways
backend gateways
  mode tcp
  balance leastconn
  option httpchk GET /healthz
  http-check expect status 200
  default-server check inter 500 fall 2 rise 2 send-proxy-v2 check-send-proxy check-ssl verify none
${gws}
# The WAFs: HTTP, any replica serves any request; a request that found a dead replica is retried
# on the other one (connection refused or reset before an answer).
frontend waf
  mode http
  bind ${LB}:8443 ssl crt ${path.join(DIR, 'lb.pem')}
  timeout client 30s
  default_backend wafs
backend wafs
  mode http
  timeout server 30s
  balance roundrobin
  option forwardfor
  # only a request that never reached a replica is sent again: a POST /token that reached one
  # may have rotated a refresh token, and sending it again would be a reuse (family revoked)
  retry-on conn-failure
  option httpchk GET /healthz
  default-server check inter 500 fall 2 rise 2
${wafs}
`;
}

/** One command to HAProxy's admin socket; its answer. */
export function haproxyCommand(topo, cmd) {
  return new Promise((resolve, reject) => {
    const s = net.connect(topo.haproxySock);
    let out = '';
    s.on('connect', () => s.end(`${cmd}\n`));
    s.on('data', (d) => { out += d; });
    s.on('end', () => resolve(out));
    s.on('error', reject);
    s.setTimeout(3000, () => s.destroy(new Error('haproxy socket timeout')));
  });
}

/** backend → server → status (UP, DOWN, …) from "show stat". */
export async function haproxyStatus(topo) {
  const csv = await haproxyCommand(topo, 'show stat');
  const st = {};
  for (const line of csv.split('\n').slice(1)) {
    const f = line.split(',');
    if (f.length > 17 && f[1] !== 'FRONTEND' && f[1] !== 'BACKEND') (st[f[0]] ||= {})[f[1]] = f[17];
  }
  return st;
}

/**
 * Starts everything. users: names (each gets an IMPU sip:<name>@ims.test and password pw-<name>);
 * gatewayArgs: extra flags for every gateway, or a function of the host (gw1…) returning them;
 * wwsfDir: the web client's files, served by every gateway at https://LB:8080/ (PAGE_URL).
 */
export async function startTopology({ users, gatewayArgs = [], wwsfDir = null }) {
  const topo = { procs: [], passwords: {}, wsUrl: WS_URL, issuer: ISSUER };
  const kek = path.join(DIR, 'kek');
  fs.writeFileSync(kek, `${crypto.randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  const common = ['--database', PG, '--key-encryption-key-file', kek, '--issuer', ISSUER,
    '--argon2-t-cost', '1', '--argon2-m-cost-kib', '1024'];
  // the WAF command line (users, clients, test tokens) runs here, on the clients' host, as an
  // operator's would from anywhere that reaches the database
  topo.wafArgs = ['--data-dir', path.join(DIR, 'waf-cli'), ...common];
  const cli = (args, input) => execFileSync(bin('imsgw-waf'), [...topo.wafArgs, ...args],
    { input, encoding: 'utf8', timeout: 60000, stdio: ['pipe', 'pipe', 'pipe'] });
  const hss = [];
  for (const u of users) {
    topo.passwords[u] = `pw-${u}-0123456789`;
    cli(['user', 'add', u, '--impu', `sip:${u}@ims.test`, '--password-stdin'], `${topo.passwords[u]}\n`);
    hss.push({ impi: `${u}@ims.test`, impu: [`sip:${u}@ims.test`] });
  }
  cli(['client', 'add', 'wic', '--public', '--redirect-uri', 'http://127.0.0.1:8080/', '--redirect-uri', `${PAGE_URL}/`]);
  const secret = path.join(DIR, 'gateway-secret');
  cli(['client', 'add', 'gateway', '--confidential', '--redirect-uri', 'http://127.0.0.1:8080/cb',
    '--secret-file', secret]);
  topo.gatewaySecret = fs.readFileSync(secret, 'utf8').trim();
  fs.writeFileSync(path.join(DIR, 'hss.json'), JSON.stringify(hss));
  const wwsf = wwsfDir ? ['--wwsf-dir', wwsfDir, '--allowed-origins', PAGE_URL] : [];
  const start = (host, name, argv) => { const p = new Proc(host, name, argv); topo.procs.push(p); return p; };

  try {
    topo.wafs = {};
    for (const [h, a] of Object.entries(WAFS))
      topo.wafs[h] = start(h, 'imsgw-waf', [bin('imsgw-waf'), '--data-dir', path.join(DIR, h), ...common,
        '--listen', a, '--port', '8000', '--trusted-proxies', LB, '--allow-plain-http', 'true']);
    topo.haproxySock = path.join(DIR, 'haproxy.sock');
    fs.writeFileSync(path.join(DIR, 'haproxy.cfg'), haproxyConfig(topo.haproxySock));
    topo.haproxy = start('lb', 'haproxy', ['haproxy', '-db', '-f', path.join(DIR, 'haproxy.cfg')]);
    topo.stub = start('ims', 'imsgw-ims-stub', [bin('imsgw-ims-stub'), '--listen', `sip:${IMS}:5060`,
      '--hss-file', path.join(DIR, 'hss.json'), '--trusted-peers', Object.values(GATEWAYS).join(','),
      '--max-bindings', '1000000']);
    for (const [h, a] of Object.entries(WAFS))
      await waitFor(() => httpOk(`http://${a}:8000/healthz`), `${h}`);
    // the gateways fetch the JWKS through HAProxy at start: only once it routes to the WAFs
    await waitFor(async () => {
      const st = await haproxyStatus(topo).catch(() => ({}));
      return Object.keys(WAFS).every((w) => st.wafs?.[w] === 'UP');
    }, 'HAProxy to see both WAFs up');
    const flowKey = crypto.randomBytes(20).toString('hex');
    topo.gateways = {};
    for (const [h, a] of Object.entries(GATEWAYS))
      topo.gateways[h] = start(h, 'imsgw-gateway', [bin('imsgw-gateway'), '--workers', '1', '--listen', a, '--port', '8080',
        '--sip-listen', `sip:${a}:5060`, '--next-hop', `sip:${IMS}:5060;transport=tcp`,
        '--authz-server', ISSUER, '--waf-client-id', 'gateway', '--waf-client-secret-file', secret,
        '--flow-key', flowKey, '--waf-ca-file', path.join(DIR, 'lb-cert.pem'), '--proxy-protocol-from', LB,
        '--tls-cert', path.join(DIR, 'lb-cert.pem'), '--tls-key', path.join(DIR, 'lb-key.pem'), ...wwsf,
        ...(typeof gatewayArgs === 'function' ? gatewayArgs(h) : gatewayArgs)]);
    // in service once HAProxy's own checks (through PROXY v2) see every server up
    await waitFor(async () => {
      const st = await haproxyStatus(topo).catch(() => ({}));
      return Object.keys(GATEWAYS).every((g) => st.gateways?.[g] === 'UP') &&
        Object.keys(WAFS).every((w) => st.wafs?.[w] === 'UP');
    }, 'HAProxy to see every gateway and WAF up');
  } catch (e) {
    const logs = topo.procs.map((p) => p.tail(15)).join('\n');
    await stopTopology(topo);
    throw new Error(`${e.message}\n${logs}`);
  }
  return topo;
}

/** Stops every process still running; returns name → exit. */
export async function stopTopology(topo) {
  const results = {};
  for (const p of [...topo.procs].reverse()) results[p.host] = await p.stop();
  return results;
}

/** The gateway (gw1…) whose address the first Path entry names. */
export function gatewayOf(ua) {
  const m = /@([0-9.]+):/.exec(ua.path?.[0] || '');
  return m && Object.keys(GATEWAYS).find((g) => GATEWAYS[g] === m[1]);
}
