// Issue 5: an IMS-native client (SIPp, registered directly at the stub with Digest) and a
// WebSocket user call each other through stub and gateway.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startStack, freePort, sleep } from './harness.mjs';
import { Ua, SDP } from './sipua.mjs';

let stack, alice;
before(async () => {
  stack = await startStack({ nativeUsers: ['sippy'], stubArgs: ['--auth-mode', 'digest'] });
  alice = await Ua.register(stack, 'alice');
});
after(async () => {
  alice.close();
  const results = await stack.stop();
  for (const [name, r] of Object.entries(results)) assert.deepEqual(r, { code: 0, sig: null }, name);
});

async function sipp(scenario, extra, port) {
  port = port || await freePort();
  const dir = fs.mkdtempSync(path.join(stack.dir, 'sipp-'));
  const server = extra.includes('--uas');
  extra = extra.filter((a) => a !== '--uas');
  const p = spawn('sipp', [...(server ? [] : [`127.0.0.1:${stack.stubPort}`]), '-sf', path.join(import.meta.dirname, '..', 'sipp', scenario),
    '-t', 't1', '-i', '127.0.0.1', '-p', String(port), '-m', '1', '-timeout', '20s', '-timeout_error', '-nostdin',
    '-au', 'sippy@ims.test', '-ap', 'native-sippy-pw', '-trace_err', '-trace_logs', ...extra], { cwd: dir, stdio: 'ignore' });
  const done = new Promise((resolve) => p.on('exit', (code) => resolve(code)));
  const read = (suffix) => {
    const f = fs.readdirSync(dir).find((n) => n.endsWith(suffix));
    return f ? fs.readFileSync(path.join(dir, f), 'utf8') : '';
  };
  return { done, read, kill: () => p.kill('SIGTERM') };
}

test('SIPp (native, Digest at the stub) calls the WebSocket user', async () => {
  const s = await sipp('native_calls_ws.xml', ['-s', 'alice']);
  const inv = await alice.waitRequest('INVITE', 15000);
  assert.match(inv.body, /o=sippy/);
  assert.match(inv.headers['p-asserted-identity']?.[0] || inv.headers.from[0], /sippy/);
  alice.respond(inv, 180, 'Ringing');
  const d = alice.respond(inv, 200, 'OK', { body: SDP('ws') });
  await alice.waitRequest('ACK', 10000);
  const bye = await alice.waitRequest('BYE', 10000);
  alice.respond(bye, 200, 'OK', { toTag: d.localTag });
  const code = await s.done;
  assert.equal(code, 0, `SIPp failed:\n${s.read('_errors.log').slice(-2000)}`);
});

test('the WebSocket user calls SIPp (native, Digest at the stub)', async () => {
  const port = await freePort();
  const reg = await sipp('stub_native_register.xml', ['-s', 'sippy'], port);
  assert.equal(await reg.done, 0, `SIPp registration failed:\n${reg.read('_errors.log').slice(-2000)}`);
  const s = await sipp('native_answers_ws.xml', ['--uas'], port);
  await sleep(300);
  const tx = alice.request('INVITE', 'sip:sippy@ims.test', { body: SDP('ws') });
  const ok = await alice.waitStatus(200, 'INVITE', 10000);
  assert.match(ok.body, /o=sippy/);
  const d = alice.dialogFrom(tx, ok);
  alice.inDialog(d, 'ACK');
  await sleep(200);
  alice.inDialog(d, 'BYE');
  await alice.waitStatus(200, 'BYE', 10000);
  const code = await s.done;
  assert.equal(code, 0, `SIPp failed:\n${s.read('_errors.log').slice(-2000)}`);
  assert.match(s.read("_logs.log"), /PAI sip:alice@ims.test/);
});
