// busy-poll-us (gateway/gw_busypoll.c): after work, the worker's loop polls without sleeping for a
// window that adapts to the gaps between messages (KVM's halt-polling rule: it grows while gaps
// are shorter than the budget and drops to nothing after a longer one) before it blocks, so that
// on a virtual machine the vCPU is still running when the next message comes. Under load it
// polls and the polls end in work; sparse traffic and an idle gateway do not pay for it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startStack, token, SipWs, registerMsg } from './harness.mjs';

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

test('sparse traffic: gaps longer than the budget drop the window, the loop sleeps at once', async () => {
  const c = await SipWs.open(stack.wsUrl);
  const a = await loop();
  await registers(c, 'alice', 10, 30);
  const b = await loop();
  c.close();
  // a window that did not adapt would poll its whole millisecond after each of the REGISTERs'
  // turns (10-30 ms in all); this one polls at most a few short growing windows
  assert.ok(b.polled - a.polled < 0.005, `polled ${b.polled - a.polled} s`);
});

test('an idle gateway sleeps', async () => {
  await sleep(100);
  const a = await loop();
  await sleep(1500);
  const b = await loop();
  assert.ok(b.polled - a.polled < 0.005, `polled ${b.polled - a.polled} s while idle`);
  assert.ok(b.cpu - a.cpu < 0.2, `loop on a CPU ${b.cpu - a.cpu} s while idle`);
});
