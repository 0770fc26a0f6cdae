// busy-poll-us (gateway/gw_busypoll.c): after work, the worker's loop polls without sleeping for a
// window that adapts to the gaps between messages (KVM's halt-polling rule: it grows while gaps
// are shorter than the budget and drops to nothing after a longer one) before it blocks, so that
// on a virtual machine the vCPU is still running when the next message comes. Under load it
// polls and the polls end in work; sparse traffic and an idle gateway do not pay for it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnSync } from 'node:child_process';
import { startStack, token, SipWs, registerMsg, Daemon, freePort } from './harness.mjs';

const BUDGET_US = 1000;
let stack;
let seq = 0;

before(async () => {
  stack = await startStack({ gatewayArgs: ['--busy-poll-us', String(BUDGET_US)] });
});
after(async () => {
  const results = await stack.stop();
  assert.deepEqual(results['imsgw-gateway'], { code: 0, sig: null }, 'the gateway stops cleanly');
});

async function loop() {
  const text = await (await fetch(`${stack.httpUrl}/metrics`)).text();
  assert.match(text, /^# TYPE imsgw_loop_busy_poll_seconds_total counter$/m);
  const get = (name) => Number((new RegExp(`^${name} ([\\d.]+)$`, 'm').exec(text) || [])[1]);
  return {
    cpu: get('imsgw_loop_cpu_seconds_total') + get('imsgw_loop_runqueue_wait_seconds_total'),
    polled: get('imsgw_loop_busy_poll_seconds_total'),
    hits: get('imsgw_loop_busy_polls_total\\{outcome="work"\\}'),
    misses: get('imsgw_loop_busy_polls_total\\{outcome="timeout"\\}'),
  };
}

async function registers(c, user, n, gapMs) {
  for (let i = 0; i < n; i++) {
    const r = await c.request(registerMsg({ user, auth: `Bearer ${token(stack, user)}`, callId: `bp-${process.pid}-${++seq}` }));
    assert.equal(r.status, 200);
    if (gapMs) await sleep(gapMs);
  }
}

test('under load the loop polls between messages, and its polls end in work', async () => {
  const [ca, cb] = await Promise.all([SipWs.open(stack.wsUrl), SipWs.open(stack.wsUrl)]);
  const a = await loop();
  const t0 = performance.now();
  // two clients back to back: the gaps in the gateway's loop are the clients' and the core's
  // turnarounds, well under the budget once the window has grown
  await Promise.all([registers(ca, 'alice', 60, 0), registers(cb, 'bob', 60, 0)]);
  const elapsed = (performance.now() - t0) / 1000;
  const b = await loop();
  ca.close();
  cb.close();
  const polled = b.polled - a.polled;
  assert.ok(b.hits - a.hits > 0, `${b.hits - a.hits} polls ended in work`);
  assert.ok(polled > 0, `polled ${polled} s`);
  assert.ok(polled < elapsed, `polled ${polled} s of ${elapsed} s`);
  // the polling is the loop's own time (on a CPU, or yielded and waiting for it)
  assert.ok(b.cpu - a.cpu >= 0.5 * polled, `loop ${b.cpu - a.cpu} s, polled ${polled} s`);
});

test('sparse traffic: a gap longer than the budget ends polling, the windows stay short', async () => {
  const c = await SipWs.open(stack.wsUrl);
  const a = await loop();
  await registers(c, 'alice', 10, 30);
  const b = await loop();
  c.close();
  const polled = b.polled - a.polled, misses = b.misses - a.misses;
  // Each REGISTER's exchange has a few short gaps (the window grows from 10 us over them) and
  // ends in a 30 ms one (the window runs out once, then drops to nothing). A window that did not
  // adapt would poll its whole millisecond at every gap it did not cover.
  if (misses === 0) assert.equal(polled, 0, 'no spell ran out, so none was polled to its end');
  else assert.ok(polled / misses < 0.0005, `${polled} s over ${misses} spells that ran out`);
});

test('an idle gateway sleeps', async () => {
  await sleep(100);
  const a = await loop();
  await sleep(1500);
  const b = await loop();
  assert.ok(b.polled - a.polled < 0.005, `polled ${b.polled - a.polled} s while idle`);
  assert.ok(b.cpu - a.cpu < 0.2, `loop on a CPU ${b.cpu - a.cpu} s while idle`);
});

// Under a real-time policy (chrt, systemd's CPUSchedulingPolicy) a polling loop would keep every
// normal thread of its core from running, the kernel's softirq thread too: the option is refused
// with a warning. Needs the right to a real-time policy (root or CAP_SYS_NICE); skipped without.
const rtAllowed = spawnSync('chrt', ['-f', '1', 'true']).status === 0;
test('at a real-time priority busy-poll-us is ignored, with a warning', { skip: !rtAllowed && 'no real-time priority here' }, async () => {
  const [port, sip] = [await freePort(), await freePort()];
  const gw = new Daemon('imsgw-gateway', ['--busy-poll-us', '500', '--port', String(port),
    '--sip-listen', `sip:127.0.0.1:${sip}`], ['chrt', '-f', '1']);
  try {
    for (let i = 0; i < 100 && !/listening:/.test(gw.log); i++) await sleep(50);
    assert.match(gw.log, /busy-poll-us 500 ignored: the gateway runs at a real-time priority \(SCHED_FIFO\)/);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(text, /^imsgw_loop_busy_poll_seconds_total 0\.000000$/m);
  } finally {
    assert.deepEqual(await gw.stop(), { code: 0, sig: null });
  }
});
