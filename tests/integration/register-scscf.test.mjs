// Issue 4: SIPp stands in for the S-CSCF and checks the forwarded REGISTER (T4 exactly, no
// Bearer token, no client P-headers); the gateway relays the 200 without charging headers (T5)
// and turns an upstream Digest challenge into 500 for its token client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startStack, token, SipWs, registerMsg, freePort } from './harness.mjs';

let stack, sipp, sippDone, sippPort;
before(async () => {
  sippPort = await freePort();
  stack = await startStack({ gatewayArgs: ['--next-hop', `sip:127.0.0.1:${sippPort};transport=tcp`] });
  const scenario = path.join(import.meta.dirname, '..', 'sipp', 'scscf_tna.xml');
  sipp = spawn('sipp', ['-sf', scenario, '-t', 't1', '-i', '127.0.0.1', '-p', String(sippPort),
    '-m', '1', '-timeout', '30s', '-nostdin', '-trace_err', '-error_file', path.join(stack.dir, 'sipp.err'),
    '-trace_logs', '-log_file', path.join(stack.dir, 'sipp.log')],
  { stdio: ['ignore', 'pipe', 'pipe'], cwd: stack.dir });
  let out = '';
  sipp.stdout.on('data', (d) => { out += d; });
  sipp.stderr.on('data', (d) => { out += d; });
  sippDone = new Promise((resolve) => sipp.on('exit', (code) => resolve({ code, out })));
  await new Promise((r) => setTimeout(r, 500));
});
after(async () => {
  sipp.kill('SIGTERM');
  await stack.stop();
});

test('T4/T5: the S-CSCF sees exactly the trusted-node REGISTER; the client gets a clean 200', async () => {
  const c = await SipWs.open(stack.wsUrl);
  const rsp = await c.request(registerMsg({
    callId: 'tna', auth: `Bearer ${token(stack, 'alice')}`,
    extra: ['P-Asserted-Identity: <sip:evil@ims.test>', 'P-Preferred-Identity: <sip:evil@ims.test>'],
  }), 10000);
  assert.equal(rsp.status, 200, rsp.text);
  assert.deepEqual(rsp.headers['service-route'], ['<sip:orig@scscf.ims.test;lr>']);
  assert.match(rsp.headers['p-associated-uri'][0], /^<sip:alice@ims\.test>, <tel:\+15550100>$/);
  assert.deepEqual(rsp.headers.require, ['outbound']);
  assert.equal(rsp.headers['p-charging-function-addresses'], undefined);
  assert.equal(rsp.headers['p-charging-vector'], undefined);
  assert.equal(rsp.headers.via.length, 1);
  assert.match(rsp.headers.to[0], /tag=scscf-/);

  const challenged = await c.request(registerMsg({ callId: 'tna', cseq: 2, auth: `Bearer ${token(stack, 'alice')}` }), 10000);
  assert.equal(challenged.status, 500, 'an upstream Digest challenge is not relayed');
  assert.equal(challenged.headers['www-authenticate'], undefined);
  c.close();
  const { code } = await sippDone;
  const read = (f) => { try { return fs.readFileSync(path.join(stack.dir, f), 'utf8'); } catch { return ''; } };
  assert.equal(code, 0, `SIPp scenario failed:\n${read('sipp.err').slice(-3000)}`);
  assert.match(read('sipp.log'), /TNA REGISTER ok/);
  assert.match(stack.gateway.log, /challenged a trusted-node REGISTER/);
});
