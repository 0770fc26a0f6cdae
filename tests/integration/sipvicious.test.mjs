// A real attacker's tools (Debian sipvicious: svmap, svwar, svcrack) against the gateway's
// IMS-side SIP port, from a stranger's address (127.0.0.2) and from the core's own address
// (127.0.0.1, as UDP source spoofing would look), and against the IMS stub. Each run is bounded
// (--maximumtime and a kill timer). They must find no user and change nothing: no
// registration at the stub, no dialog or transaction left, both users' flows still work.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startStack, sleep } from './harness.mjs';
import { Ua } from './sipua.mjs';

const STRANGER = '127.0.0.2';
const CORE = '127.0.0.1';
const NAMES = ['alice', 'bob', 'carol', 'admin', '100', '1000'];

let stack, alice, bob, home, dict, passwords, registersBefore;
before(async () => {
  stack = await startStack({ users: ['alice', 'bob'] });
  alice = await Ua.register(stack, 'alice');
  bob = await Ua.register(stack, 'bob');
  home = path.join(stack.dir, 'sipvicious-home'); // its session files stay in the test's dir
  fs.mkdirSync(home);
  dict = path.join(home, 'names.txt');
  fs.writeFileSync(dict, `${NAMES.join('\n')}\n`);
  passwords = path.join(home, 'passwords.txt');
  fs.writeFileSync(passwords, `secret\npassword\n1234\n${stack.passwords.alice}\n`);
  // the stub's log line may trail its 200: count once both registrations are logged
  for (let i = 0; i < 100 && registrations() < 2; i++) await sleep(20);
  registersBefore = registrations();
  assert.equal(registersBefore, 2, 'alice and bob registered at the stub');
});
after(async () => {
  alice.close();
  bob.close();
  const results = await stack.stop();
  for (const [name, r] of Object.entries(results)) assert.deepEqual(r, { code: 0, sig: null }, name);
});

/** Registrations the stub accepted (svwar's own REGISTERs to the stub are logged, refused). */
const registrations = () => (stack.stub.log.match(/register aor=\S+ from=\S+ status=200/g) || []).length;

/** Runs a sipvicious tool; returns stdout + stderr. */
function run(tool, args) {
  return new Promise((resolve) => {
    execFile(tool, args, { env: { ...process.env, HOME: home }, cwd: home, timeout: 40000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => resolve(`${stdout}${stderr}`));
  });
}

/** Extensions svwar/svcrack list in their result table. */
const listed = (out) => [...out.matchAll(/^\| (\S+)\s+\| (\S+)\s+\|$/gm)].map((m) => [m[1], m[2]])
  .filter(([name]) => !['Extension', 'SIP'].includes(name));

/** svwar found no user: nothing listed, or every name listed alike, its own random control too. */
function noUserFound(out, what) {
  const rows = listed(out);
  if (rows.length === 0) return;
  const controls = rows.filter(([name]) => !NAMES.includes(name));
  assert.ok(controls.length > 0 && new Set(rows.map(([, how]) => how)).size === 1,
    `${what}: svwar told users apart:\n${out}`);
}

test('svmap finds the gateway\'s SIP port without a product fingerprint', async () => {
  const outs = await Promise.all([STRANGER, CORE].map((from) => run('svmap', ['-b', from, '-p', String(stack.gwSipPort), CORE])));
  for (const out of outs) assert.match(out, new RegExp(`127\\.0\\.0\\.1:${stack.gwSipPort}\\s+\\| unknown`), out);
});

test('svwar enumerates no extension at the gateway (REGISTER, INVITE, OPTIONS)', async () => {
  const scans = [[STRANGER, 'REGISTER', ['-d', dict]], [STRANGER, 'REGISTER', ['-e', '100-110']],
    [STRANGER, 'INVITE', ['-d', dict]], [STRANGER, 'OPTIONS', ['-d', dict]],
    [CORE, 'REGISTER', ['-d', dict]], [CORE, 'OPTIONS', ['-d', dict]]];
  // the stranger's and the core's scans side by side (two source addresses): the suite stays short
  const lane = async (from) => {
    for (const [src, method, target] of scans.filter(([src]) => src === from)) {
      const out = await run('svwar', ['-b', src, '-p', String(stack.gwSipPort), '-m', method, ...target,
        '--domain', 'ims.test', '--maximumtime=8', CORE]);
      noUserFound(out, `${method} from ${src} ${target.join(' ')}`);
    }
  };
  await Promise.all([lane(STRANGER), lane(CORE)]);
});

test('svcrack cracks nothing at the gateway', async () => {
  for (const from of [STRANGER, CORE]) {
    const out = await run('svcrack', ['-b', from, '-p', String(stack.gwSipPort), '-u', 'alice', '-d', passwords,
      '--domain', 'ims.test', '--maximumtime=8', CORE]);
    assert.doesNotMatch(out, /\| alice\s+\|/, out);
    assert.match(out, /found nothing|User not found|no server response/, out);
  }
});

test('svmap and svwar against the IMS stub: found as a SIP device, no user told apart', async () => {
  const map = await run('svmap', ['-p', String(stack.stubPort), CORE]);
  assert.match(map, new RegExp(`127\\.0\\.0\\.1:${stack.stubPort}`), map);
  // the stub challenges every REGISTER, known user or not: svwar gives up, and forced finds nothing
  for (const force of [[], ['--force']]) {
    const out = await run('svwar', [...force, '-p', String(stack.stubPort), '-m', 'REGISTER', '-d', dict,
      '--domain', 'ims.test', '--maximumtime=8', CORE]);
    noUserFound(out, `stub REGISTER ${force.join(' ')}`);
  }
});

test('afterwards nothing changed: no registration at the stub, no dialog or transaction, both flows work', async () => {
  await sleep(200); // the stub's log line may trail its answer
  assert.equal(registrations(), registersBefore, 'no registration appeared at the stub');
  let text = '';
  for (let i = 0; i < 80; i++) { // an INVITE a scanner never ACKs lingers until its timers end
    text = await (await fetch(`${stack.httpUrl}/metrics`)).text();
    if (/^imsgw_proxy_transactions 0$/m.test(text)) break;
    await sleep(100);
  }
  assert.match(text, /^imsgw_dialogs 0$/m);
  assert.match(text, /^imsgw_proxy_transactions 0$/m);
  assert.ok((await fetch(`${stack.httpUrl}/healthz`)).ok);
  alice.request('MESSAGE', bob.aor, { body: 'still here', contentType: 'text/plain' });
  const m = await bob.waitRequest('MESSAGE');
  bob.respond(m, 200, 'OK');
  await alice.waitStatus(200, 'MESSAGE');
});
