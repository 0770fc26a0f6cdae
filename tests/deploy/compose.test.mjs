// Issue 10, items 4-5: the container images build from the checkout's tracked files with podman,
// docker/compose.yml validates and comes up, and the stack works end to end through it: the WSS
// handshake presents the demo certificate, a Bearer REGISTER gets 200, and Chromium signs in,
// calls and messages over https/wss; the WAF's users survive down/up. Issue 11: with
// compose.ims-core.yml the gateway registers a WebSocket user at a real Kamailio core in a
// container. Runs once (release build).
// Fixed host ports 8443/9443 (the compose defaults): runs on one machine are serialised by a lock.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { SipWs, registerMsg, sleep, httpOk } from '../integration/harness.mjs';
import { launch, openPage, signIn, byId, expectText, shot } from '../browser/wic-helpers.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PROJECT = 'imsgw-test';
const GW = 'https://localhost:8443', WAF = 'https://localhost:9443';
const env = { ...process.env, CONTAINERS_CONF: path.join(ROOT, 'docker/podman/containers.conf') };
const ctxDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imsgw-ctx-'));

function run(cmd, args, { timeout = 600000, input } = {}) {
  const r = spawnSync(cmd, args, { cwd: ROOT, env, encoding: 'utf8', timeout, input, maxBuffer: 64 << 20 });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${(r.stdout || '').slice(-3000)}\n${(r.stderr || '').slice(-3000)}`);
  return r.stdout;
}
const compose = (...args) => run('podman-compose', ['-p', PROJECT, '-f', 'docker/compose.yml', ...args]);
// The ims-core profile: the base file plus its override (podman-compose 1.0.3 ignores profiles).
const composeCore = (...args) => run('podman-compose', ['-p', PROJECT, '-f', 'docker/compose.yml',
  '-f', 'docker/compose.ims-core.yml', ...args]);
const exec = (service, ...cmd) => run('podman', ['exec', `${PROJECT}_${service}_1`, ...cmd], { timeout: 60000 });

// The stub has no health URL (its entrypoint first waits for the gateway's address): its
// "listening" log line says it is up; until then the gateway rightly answers 503.
const stubListening = () => {
  const r = spawnSync('podman', ['logs', `${PROJECT}_ims-stub_1`], { env, encoding: 'utf8', timeout: 10000 });
  return /listening on/.test(`${r.stdout}${r.stderr}`);
};

async function healthy(timeoutMs = 90000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await httpOk('https://127.0.0.1:8443/healthz', ca()) && await httpOk('https://127.0.0.1:9443/healthz', ca()) &&
      stubListening()) return;
    await sleep(500);
  }
  throw new Error(`the stack did not come up:\n${spawnSync('podman', ['logs', '--tail', '30', `${PROJECT}_gateway_1`], { env, encoding: 'utf8' }).stderr}`);
}
let demoCert = null;
const ca = () => demoCert;
const passwords = {};
const token = (user) => exec('waf', 'imsgw-waf', '--config', '/etc/imsgw/waf.json', 'token', user).trim();

let lockFd;
before(async () => {
  // One stack per machine at a time (fixed ports): wait for the lock, bounded.
  const lock = path.join(os.tmpdir(), 'imsgw-compose-test.lock');
  for (let i = 0; ; i++) {
    try { lockFd = fs.openSync(lock, 'wx'); fs.writeSync(lockFd, String(process.pid)); break; } catch {
      const pid = Number(fs.readFileSync(lock, 'utf8')) || 0;
      let alive = false;
      try { process.kill(pid, 0); alive = pid > 0; } catch { /* gone */ }
      if (!alive) { fs.rmSync(lock, { force: true }); continue; }
      if (i > 600) throw new Error('another compose test holds the lock for 10 minutes');
      await sleep(1000);
    }
  }
  // The build context is the checkout's tracked files as they are now (a clean checkout's view).
  const files = execFileSync('git', ['-C', ROOT, 'ls-files', '-z'], { encoding: 'utf8' }).split('\0').filter(Boolean)
    .filter((f) => fs.existsSync(path.join(ROOT, f)));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(ctxDir, f)), { recursive: true });
    fs.cpSync(path.join(ROOT, f), path.join(ctxDir, f));
  }
  run(path.join(ROOT, 'scripts/containers.sh'), ['build', ctxDir], { timeout: 900000 });
  compose('down', '-v');
});

after(async () => {
  try { composeCore('down', '-v'); } finally {
    fs.rmSync(ctxDir, { recursive: true, force: true });
    if (lockFd !== undefined) { fs.closeSync(lockFd); fs.rmSync(path.join(os.tmpdir(), 'imsgw-compose-test.lock'), { force: true }); }
  }
});

test('compose config validates; the stack comes up healthy as non-root', async () => {
  // podman-compose 1.0.3 has no `config`: Debian's docker-compose (1.29) validates the file
  // against the Compose schema offline, as `docker compose config` does.
  run('docker-compose', ['-f', 'docker/compose.yml', 'config', '-q']);
  const services = run('docker-compose', ['-f', 'docker/compose.yml', 'config', '--services']).trim().split('\n');
  for (const s of ['waf', 'ims-stub', 'gateway']) assert.ok(services.includes(s), `service ${s}`);
  compose('up', '-d');
  // The demo certificate is made by the WAF at first start; fetch it once it exists.
  for (let i = 0; i < 120 && !demoCert; i++) {
    try { demoCert = exec('waf', 'cat', '/var/lib/imsgw/demo/cert.pem'); } catch { await sleep(500); }
  }
  assert.ok(demoCert, 'the WAF wrote the demo certificate');
  await healthy();
  assert.equal(exec('gateway', 'id', '-u').trim(), '10001');
  assert.equal(exec('waf', 'id', '-u').trim(), '10001');
  for (const line of exec('waf', 'cat', '/var/lib/imsgw/waf/demo-credentials.txt').trim().split('\n')) {
    const [u, p] = line.split(' ');
    passwords[u] = p;
  }
  assert.ok(passwords.alice && passwords.bob);
});

test('WSS handshake presents the demo certificate; a Bearer REGISTER gets 200', async () => {
  const fp = new crypto.X509Certificate(demoCert).fingerprint256;
  const c = await SipWs.open('wss://localhost:8443/sip', 'sip', { ca: demoCert, origin: GW });
  assert.equal(c.ws._socket.getPeerCertificate().fingerprint256, fp);
  const rsp = await c.request(registerMsg({ callId: 'compose-reg', auth: `Bearer ${token('alice')}` }), 10000);
  assert.equal(rsp.status, 200, rsp.start);
  c.close();
});

test('Chromium over https/wss: sign-in, call, message through the compose stack', async () => {
  // Chromium trusts exactly the demo certificate (its public-key hash), nothing else.
  const spki = crypto.createHash('sha256')
    .update(new crypto.X509Certificate(demoCert).publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
  const browser = await launch([`--ignore-certificate-errors-spki-list=${spki}`]);
  try {
    const stack = { httpUrl: GW, issuer: WAF };
    const alice = await openPage(browser, 'alice'), bob = await openPage(browser, 'bob');
    await signIn(alice, stack, 'alice', passwords.alice);
    await signIn(bob, stack, 'bob', passwords.bob);
    assert.equal(await alice.evaluate(() => window.isSecureContext), true);
    await byId(alice, 'dial-input').fill('bob');
    await byId(alice, 'call').click();
    await expectText(bob, 'call-status', /^Incoming call from sip:alice@ims\.test$/);
    await byId(bob, 'answer').click();
    await expectText(alice, 'call-status', /^In call with sip:bob@ims\.test$/);
    await byId(alice, 'hangup').click();
    await expectText(bob, 'call-status', /^Call ended by sip:alice@ims\.test$/);
    await byId(alice, 'msg-to').fill('bob');
    await byId(alice, 'msg-input').fill('hello over wss');
    await byId(alice, 'msg-send').click();
    await expectText(bob, 'msg-log', /from sip:alice@ims\.test: hello over wss/);
    await shot(bob, 'compose-01-message');
  } finally {
    await browser.close();
  }
});

test('down/up keeps the WAF users and keys (named volume)', async () => {
  const kid = JSON.parse(exec('waf', 'curl', '-fsk', 'https://127.0.0.1:9443/jwks.json')).keys[0].kid;
  compose('down');
  compose('up', '-d');
  await healthy();
  assert.match(exec('waf', 'imsgw-waf', '--config', '/etc/imsgw/waf.json', 'user', 'list'), /alice/);
  assert.equal(JSON.parse(exec('waf', 'curl', '-fsk', 'https://127.0.0.1:9443/jwks.json')).keys[0].kid, kid);
  const c = await SipWs.open('wss://localhost:8443/sip', 'sip', { ca: demoCert, origin: GW });
  assert.equal((await c.request(registerMsg({ callId: 'compose-reg2', auth: `Bearer ${token('bob')}`, user: 'bob' }), 10000)).status, 200);
  c.close();
});

test('ims-core profile: a WebSocket user registers through the real Kamailio core in a container', async () => {
  run('podman', ['build', '--pull=never', '--network', 'host', '--layers', '-f',
    path.join(ctxDir, 'docker/ims-core/Dockerfile'), '-t', 'localhost/imsgw-ims-core:latest', ctxDir], { timeout: 900000 });
  run('docker-compose', ['-f', 'docker/compose.yml', '-f', 'docker/compose.ims-core.yml', '--profile', 'ims-core', 'config', '-q']);
  compose('down');
  composeCore('up', '-d');
  const coreLog = () => spawnSync('podman', ['logs', `${PROJECT}_ims-core_1`], { env, encoding: 'utf8', timeout: 10000 });
  for (let i = 0; i < 120 && !/ims-core: ready \(tna\)/.test(coreLog().stdout); i++) await sleep(500);
  assert.match(coreLog().stdout, /ims-core: ready \(tna\)/, coreLog().stderr.slice(-2000));
  await healthy();
  const c = await SipWs.open('wss://localhost:8443/sip', 'sip', { ca: demoCert, origin: GW });
  const rsp = await c.request(registerMsg({ callId: 'compose-core-reg', auth: `Bearer ${token('alice')}` }), 10000);
  c.close();
  assert.equal(rsp.status, 200, rsp.start);
  // The core's own answer: its S-CSCF (:6060) in Service-Route, the HSS's IMPU as associated.
  assert.match(rsp.headers['service-route'][0], /^<sip:orig@[0-9.]+:6060;lr>$/);
  assert.match(rsp.headers['p-associated-uri'][0], /sip:alice@ims\.test/);
  composeCore('down');
});
