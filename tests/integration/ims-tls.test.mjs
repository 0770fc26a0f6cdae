// Issue 10, item 3: the IMS side over TLS (sofia-sip transport=tls, TPTAG_CERTIFICATE). The stub
// listens on a TLS-only port too; the gateway's next hop names that port with ;transport=tls, so
// a 200 can only have come over TLS. The gateway verifies the stub's certificate: with a CA file
// that does not hold it, the REGISTER fails.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack, token, SipWs, registerMsg, freePort, bin, BIN } from './harness.mjs';

// sofia-sip's TLS code leaks inside libcrypto calls (tests/lsan.supp names its functions); the
// suppressions can only match with full malloc stacks, which libcrypto's lack of frame pointers
// hides from the fast unwinder. Sanitizer builds only; the release build ignores this.
const sanitized = /^IMSGW_SANITIZE:BOOL=ON$/m.test(
  (() => { try { return fs.readFileSync(path.join(BIN, 'CMakeCache.txt'), 'utf8'); } catch { return ''; } })());
if (sanitized) process.env.ASAN_OPTIONS = `${process.env.ASAN_OPTIONS || ''}:fast_unwind_on_malloc=0:malloc_context_size=12`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imsgw-imstls-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A sofia-sip certificate directory: agent.pem = key + certificate, cafile.pem = trusted CAs. */
function sofiaDir(name, trust) {
  const d = path.join(dir, name);
  fs.mkdirSync(d);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-days', '2', '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', path.join(d, 'key.pem'), '-out', path.join(d, 'cert.pem')], { stdio: 'ignore' });
  fs.writeFileSync(path.join(d, 'agent.pem'),
    fs.readFileSync(path.join(d, 'key.pem'), 'utf8') + fs.readFileSync(path.join(d, 'cert.pem'), 'utf8'),
    { mode: 0o600 }); // a key file: closed to group and others (common/secretfile.c)
  fs.writeFileSync(path.join(d, 'cafile.pem'), trust ? fs.readFileSync(trust, 'utf8') : fs.readFileSync(path.join(d, 'cert.pem'), 'utf8'));
  return d;
}

async function registerThroughTls(gwDir, timeoutMs = 30000) {
  const stubTls = await freePort(), gwTls = await freePort();
  const stack = await startStack({
    stubArgs: ['--tls-listen', `sips:127.0.0.1:${stubTls}`, '--tls-dir', stubDir],
    gatewayArgs: ['--sip-tls-listen', `sips:127.0.0.1:${gwTls}`, '--sip-tls-dir', gwDir,
      '--next-hop', `sip:127.0.0.1:${stubTls};transport=tls`],
  });
  try {
    const c = await SipWs.open(stack.wsUrl);
    // No answer in time counts as "not 200" too (sofia's Timer F would end it only after 32 s).
    const rsp = await c.request(registerMsg({ callId: `ims-tls-${gwTls}`, auth: `Bearer ${token(stack, 'alice')}` }), timeoutMs)
      .catch(() => null);
    c.close();
    return rsp;
  } finally {
    const results = await stack.stop();
    const logs = { gateway: stack.gateway.log, stub: stack.stub.log };
    for (const [name, r] of Object.entries(results))
      assert.deepEqual(r, { code: 0, sig: null }, `${name} must stop cleanly on SIGTERM:\n${(logs[name.replace('imsgw-', '').replace('ims-', '')] || '').slice(-30000)}`);
  }
}

const stubDir = sofiaDir('stub');

test('REGISTER reaches the stub over TLS and gets 200', async () => {
  const rsp = await registerThroughTls(sofiaDir('gw', path.join(stubDir, 'cert.pem')));
  assert.equal(rsp?.status, 200, rsp?.text);
});

// sofia-sip does not fail the transaction when the handshake's verification fails: the REGISTER
// would end with Timer F (408 after 32 s), so the test stops the gateway with it pending (which
// also proves, under ASan, that a REGISTER pending at SIGTERM is freed: reg_stop()).
test('a core certificate the gateway does not trust: no 200', async () => {
  const rsp = await registerThroughTls(sofiaDir('gw-untrusting', null), 3000);
  assert.ok(rsp === null || rsp.status >= 400, rsp?.text);
});

test('bad IMS-side TLS settings stop the gateway with one line', () => {
  const cases = [
    [['--sip-tls-listen', 'sips:127.0.0.1:5999'], /sip-tls-listen and sip-tls-dir go together/],
    [['--sip-tls-listen', 'sip:127.0.0.1:5999', '--sip-tls-dir', stubDir], /must be a sips: URI/],
    [['--sip-tls-listen', 'sips:127.0.0.1:5999', '--sip-tls-dir', dir], /cannot read sip-tls-dir certificate .*agent\.pem/],
  ];
  for (const [args, why] of cases) {
    const r = spawnSync(bin('imsgw-gateway'), ['--workers', '1', ...args], { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 2);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, lines.join(' | '));
    assert.match(lines[0], why);
  }
});
