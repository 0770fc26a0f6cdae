// Issue 10: HTTPS and WSS on the gateway and HTTPS on the WAF (tls-cert/tls-key), the certificate
// reload on SIGHUP that keeps open connections, the refusal of plain listeners on non-loopback
// addresses, and one-line errors for bad certificate files. Certificates are made here with the
// openssl CLI (never committed).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import http from 'node:http';
import https from 'node:https';
import { startStack, token, SipWs, registerMsg, bin, freePort, freePortRange, sleep, Daemon, httpOk } from './harness.mjs';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imsgw-tls-'));
fs.chmodSync(dir, 0o755);
function makeCert(name, cn) {
  const cert = path.join(dir, `${name}-cert.pem`), key = path.join(dir, `${name}-key.pem`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-days', '2', '-subj', `/CN=${cn}`, '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key, pem: fs.readFileSync(cert, 'utf8') };
}
const A = makeCert('a', 'imsgw test A'), B = makeCert('b', 'imsgw test B');
const live = { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') };
const install = (pair) => { fs.copyFileSync(pair.cert, live.cert); fs.copyFileSync(pair.key, live.key); };
const fingerprint = (pem) => new crypto.X509Certificate(pem).fingerprint256;
const ca = [A.pem, B.pem];

/** The certificate a fresh TLS handshake on port presents (its SHA-256 fingerprint). */
const presented = (port) => new Promise((resolve, reject) => {
  const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
    resolve(s.getPeerCertificate().fingerprint256);
    s.destroy();
  });
  s.on('error', reject);
});

function get(url, opts = {}) {
  return new Promise((resolve, reject) => {
    const req = (url.startsWith('https:') ? https : http).get(url, { ca, ...opts }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.setTimeout(3000, () => req.destroy(new Error('timeout')));
  });
}

let stack, redirectPort;
before(async () => {
  install(A);
  redirectPort = await freePort();
  stack = await startStack({ tlsCa: ca, gatewayArgs: ['--tls-cert', live.cert, '--tls-key', live.key,
    '--http-redirect-port', String(redirectPort)] });
});
after(async () => {
  const results = await stack.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  for (const [name, r] of Object.entries(results))
    assert.deepEqual(r, { code: 0, sig: null }, `${name} must stop cleanly on SIGTERM`);
});

const register = (c, cseq, callId) =>
  c.request(registerMsg({ cseq, callId, auth: `Bearer ${token(stack, 'alice')}` }));

test('HTTPS: /healthz over TLS with HSTS; the redirect port answers 301 to https', async () => {
  const r = await get(`${stack.httpUrl}/healthz`);
  assert.equal(r.status, 200);
  assert.equal(r.headers['strict-transport-security'], 'max-age=31536000');
  const red = await get(`http://127.0.0.1:${redirectPort}/index.html`);
  assert.equal(red.status, 301);
  assert.equal(red.headers.location, `https://127.0.0.1:${stack.gwPort}/index.html`);
});

test('SIGHUP with a new certificate keeps the registered WSS connection; new handshakes get it',
  async () => {
    assert.equal(await presented(stack.gwPort), fingerprint(A.pem));
    const c = await SipWs.open(stack.wsUrl, 'sip', { ca });
    assert.equal(c.ws._socket.getPeerCertificate().fingerprint256, fingerprint(A.pem));
    const first = await register(c, 1, 'tls-reload');
    assert.equal(first.status, 200);
    assert.match(first.headers.path?.[0] || first.text, /sip:/);

    install(B);
    stack.gateway.proc.kill('SIGHUP');
    for (let i = 0; i < 100 && !/certificate reloaded/.test(stack.gateway.log); i++) await sleep(20);
    assert.match(stack.gateway.log, /SIGHUP: certificate reloaded/);
    assert.equal(await presented(stack.gwPort), fingerprint(B.pem), 'a new handshake presents B');
    // The connection opened before the reload is still open and still registered: a refresh on
    // it is answered 200, and the metrics still count one registration.
    const again = await register(c, 2, 'tls-reload');
    assert.equal(again.status, 200);
    const m = await get(`${stack.httpUrl}/metrics`);
    assert.match(m.body, /^imsgw_registrations 1$/m);
    assert.match(m.body, /^imsgw_tls_reloads_total 1$/m);

    // A mismatched pair is refused whole: the gateway keeps presenting B.
    fs.copyFileSync(A.cert, live.cert);
    stack.gateway.proc.kill('SIGHUP');
    for (let i = 0; i < 100 && !/certificate not reloaded/.test(stack.gateway.log); i++) await sleep(20);
    assert.match(stack.gateway.log, /certificate not reloaded, the previous one stays: tls-key .* does not match/);
    assert.equal(await presented(stack.gwPort), fingerprint(B.pem));
    install(B);
    c.close();
  });

test('Via of requests towards a WSS client names WSS (RFC 7118 §5)', async () => {
  const bob = await SipWs.open(stack.wsUrl, 'sip', { ca });
  assert.equal((await bob.request(registerMsg({ user: 'bob', callId: 'tls-bob',
    auth: `Bearer ${token(stack, 'bob')}` }))).status, 200);
  const alice = await SipWs.open(stack.wsUrl, 'sip', { ca });
  assert.equal((await register(alice, 1, 'tls-alice')).status, 200);
  alice.send(['MESSAGE sip:bob@ims.test SIP/2.0', 'Via: SIP/2.0/WSS a.invalid;branch=z9hG4bK-tlsmsg',
    'Max-Forwards: 70', 'From: <sip:alice@ims.test>;tag=tm1', 'To: <sip:bob@ims.test>',
    'Call-ID: tls-msg', 'CSeq: 1 MESSAGE', 'Content-Type: text/plain', 'Content-Length: 2', '', 'hi'].join('\r\n'));
  const inbound = await bob.next();
  assert.match(inbound, /^MESSAGE /);
  assert.match(inbound, /^Via: SIP\/2\.0\/WSS /m);
  alice.close();
  bob.close();
});

// ws_mask over TLS: the check reads the decrypted bytes (SSL_read), never the ciphertext.
test('over WSS an unmasked frame still closes with 1002; masked frames are untouched', async () => {
  const sock = tls.connect({ host: '127.0.0.1', port: stack.gwPort, ca, servername: 'localhost' });
  await new Promise((r, j) => { sock.on('secureConnect', r); sock.on('error', j); });
  let buf = Buffer.alloc(0);
  sock.on('data', (d) => { buf = Buffer.concat([buf, d]); });
  const closed = new Promise((r) => sock.on('close', r));
  sock.write(`GET /sip HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
    'Sec-WebSocket-Protocol: sip\r\n\r\n');
  for (let i = 0; i < 100 && !buf.includes('\r\n\r\n'); i++) await sleep(20);
  assert.match(buf.toString('latin1'), /^HTTP\/1\.1 101/);
  const frame = (text, mask) => {
    const p = Buffer.from(text), key = crypto.randomBytes(4);
    const head = Buffer.from([0x81, (mask ? 0x80 : 0) | 126, p.length >> 8, p.length & 255]);
    return Buffer.concat([head, mask ? key : Buffer.alloc(0), mask ? p.map((b, i) => b ^ key[i % 4]) : p]);
  };
  sock.write(frame(registerMsg({ callId: 'tls-masked' }), true));
  for (let i = 0; i < 100 && !buf.includes('SIP/2.0 401'); i++) await sleep(20);
  assert.ok(buf.includes('SIP/2.0 401'), 'a masked REGISTER over TLS is answered');
  sock.write(frame(registerMsg({ callId: 'tls-unmasked' }), false));
  await Promise.race([closed, sleep(2000)]);
  const i = buf.lastIndexOf(Buffer.from([0x88, 0x02]));
  assert.ok(i >= 0, 'a close frame came');
  assert.equal(buf.readUInt16BE(i + 2), 1002);
  sock.destroy();
});

/** Runs a daemon that must refuse to start: its exit status and stderr lines. */
function refused(name, args, opts = {}) {
  const r = spawnSync(bin(name), args, { encoding: 'utf8', timeout: 10000, ...opts });
  return { status: r.status, lines: r.stderr.trim().split('\n') };
}

test('refusals at start: plain on a non-loopback address, bad files — one line, non-zero exit',
  async () => {
    const port = String(await freePort());
    const cases = [
      [['--listen', '0.0.0.0'], /refusing plain http\/ws on non-loopback address 0\.0\.0\.0/],
      [['--tls-cert', path.join(dir, 'missing.pem'), '--tls-key', A.key], /cannot read tls-cert .*missing\.pem: No such file/],
      [['--tls-cert', A.cert, '--tls-key', B.key], /tls-key .*b-key\.pem does not match the certificate/],
      [['--tls-cert', A.key, '--tls-key', A.key], /holds no PEM certificate/],
      [['--tls-cert', A.cert], /tls-cert and tls-key go together/],
    ];
    for (const name of ['imsgw-gateway', 'imsgw-waf']) {
      for (const [args, why] of cases) {
        const r = refused(name, ['--port', port, ...args, ...(name === 'imsgw-waf' ? ['--data-dir', path.join(dir, 'wafdata'), '--issuer', 'https://localhost:9443'] : ['--workers', '1'])]);
        assert.equal(r.status, 2, `${name} ${args.join(' ')}: exit 2`);
        assert.equal(r.lines.length, 1, `${name}: one line, got ${r.lines.join(' | ')}`);
        assert.match(r.lines[0], why);
      }
    }
    // An unreadable key: as root, run as nobody, who cannot read the 0600 key.
    const secret = path.join(dir, 'secret-key.pem');
    fs.copyFileSync(A.key, secret);
    fs.chmodSync(secret, 0o600);
    fs.chmodSync(A.cert, 0o644);
    const asOther = process.getuid() === 0 ? { uid: 65534, gid: 65534 } : {};
    if (process.getuid() !== 0) fs.chmodSync(secret, 0o000);
    const r = refused('imsgw-gateway', ['--workers', '1', '--port', port, '--tls-cert', A.cert, '--tls-key', secret], asOther);
    assert.equal(r.status, 2);
    assert.deepEqual(r.lines.length, 1);
    assert.match(r.lines[0], /tls-key .*secret-key\.pem: Permission denied/);
    // A key open to group or others is refused (common/secretfile.c).
    const open = path.join(dir, 'open-key.pem');
    fs.copyFileSync(A.key, open);
    fs.chmodSync(open, 0o644);
    const o = refused('imsgw-gateway', ['--workers', '1', '--port', port, '--tls-cert', A.cert, '--tls-key', open]);
    assert.equal(o.status, 2);
    assert.equal(o.lines.length, 1);
    assert.match(o.lines[0], /tls-key .*open-key\.pem/);
    // The explicit setting lets a plain listener on a non-loopback address start.
    const plain = new Daemon('imsgw-gateway', ['--listen', '0.0.0.0', '--allow-plain-http', 'true',
      '--port', port, '--sip-listen', `sip:127.0.0.1:${await freePort()}`]);
    let up = false;
    for (let i = 0; i < 100 && !(up = await httpOk(`http://127.0.0.1:${port}/healthz`)); i++) await sleep(50);
    assert.ok(up, 'allow-plain-http true starts');
    assert.deepEqual(await plain.stop(), { code: 0, sig: null });
  });

// With worker processes (issue 13) the supervisor takes SIGHUP (systemctl reload) and hands it to
// every worker; before, SIGHUP's default action ended the supervisor.
test('workers: SIGHUP to the supervisor reloads every worker and stops nothing', async () => {
  install(A);
  const port = await freePort();
  const recoveryPort = await freePortRange(2); // the workers' recovery ports serve the same certificate
  const gw = new Daemon('imsgw-gateway', ['--workers', '2', '--port', String(port), '--tls-cert', live.cert,
    '--tls-key', live.key, '--sip-listen', `sip:127.0.0.1:${await freePortRange(2)}`, '--recovery-port', String(recoveryPort)]);
  try {
    let up = false;
    for (let i = 0; i < 200 && !(up = await httpOk(`https://127.0.0.1:${port}/healthz`, ca)); i++) await sleep(50);
    assert.ok(up, `the gateway serves https: ${gw.log}`);
    for (let i = 0; i < 100 && (gw.log.match(/listening: https/g) || []).length < 2; i++) await sleep(50);
    install(B);
    gw.proc.kill('SIGHUP');
    for (let i = 0; i < 200 && (gw.log.match(/certificate reloaded/g) || []).length < 2; i++) await sleep(20);
    assert.equal((gw.log.match(/certificate reloaded/g) || []).length, 2, gw.log);
    for (let i = 0; i < 6; i++) assert.equal(await presented(port), fingerprint(B.pem)); // any worker
    for (const p of [recoveryPort, recoveryPort + 1]) assert.equal(await presented(p), fingerprint(B.pem), `recovery port ${p}`);
    assert.match(gw.log, new RegExp(`named to DPoP clients as wss://127\\.0\\.0\\.1:${recoveryPort + 1}/sip`));
    assert.equal(gw.proc.exitCode, null, 'the supervisor is still running');
  } finally {
    assert.deepEqual(await gw.stop(), { code: 0, sig: null });
  }
});

test('WAF: HTTPS issuer with HSTS, reload on SIGHUP', async () => {
  const port = await freePort();
  const waf = new Daemon('imsgw-waf', ['--data-dir', path.join(dir, 'waf-tls'), '--port', String(port),
    '--issuer', `https://localhost:${port}`, '--tls-cert', live.cert, '--tls-key', live.key]);
  try {
    let up = false;
    for (let i = 0; i < 100 && !(up = await httpOk(`https://127.0.0.1:${port}/healthz`, ca)); i++) await sleep(50);
    assert.ok(up, `the WAF serves https: ${waf.log}`);
    const meta = await get(`https://127.0.0.1:${port}/.well-known/oauth-authorization-server`);
    assert.equal(meta.status, 200);
    assert.equal(JSON.parse(meta.body).issuer, `https://localhost:${port}`);
    assert.equal(meta.headers['strict-transport-security'], 'max-age=31536000');
    assert.equal(await presented(port), fingerprint(B.pem));
    install(A);
    waf.proc.kill('SIGHUP');
    for (let i = 0; i < 100 && !/certificate reloaded/.test(waf.log); i++) await sleep(20);
    assert.equal(await presented(port), fingerprint(A.pem));
  } finally {
    assert.deepEqual(await waf.stop(), { code: 0, sig: null });
  }
});
