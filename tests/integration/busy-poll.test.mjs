// busy-poll-us (gateway/gw_busypoll.c): after work, the worker's loop polls without sleeping for
// the budget before it blocks, so that on a virtual machine the vCPU is still running when the
// next message comes. It must spend that time only after work (the metric grows), and then sleep:
// an idle gateway with a budget set takes no more CPU than one without.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startStack, token, SipWs, registerMsg } from './harness.mjs';

const BUDGET_US = 5000;
let stack;

before(async () => {
  stack = await startStack({ gatewayArgs: ['--busy-poll-us', String(BUDGET_US)] });
});
after(async () => {
  const results = await stack.stop();
  assert.deepEqual(results['imsgw-gateway'], { code: 0, sig: null }, 'the gateway stops cleanly');
});

async function loopSeconds() {
  const text = await (await fetch(`${stack.httpUrl}/metrics`)).text();
  assert.match(text, /^# TYPE imsgw_loop_busy_poll_seconds_total counter$/m);
  const get = (name) => Number((new RegExp(`^${name} ([\\d.]+)$`, 'm').exec(text) || [])[1]);
  return { cpu: get('imsgw_loop_cpu_seconds_total'), poll: get('imsgw_loop_busy_poll_seconds_total') };
}

test('after work the loop polls for the budget, and the time is in /metrics', async () => {
  const before = await loopSeconds();
  const c = await SipWs.open(stack.wsUrl);
  for (let i = 0; i < 5; i++) {
    const r = await c.request(registerMsg({ auth: `Bearer ${token(stack, 'alice')}`, callId: `bp-${process.pid}-${i}` }));
    assert.equal(r.status, 200);
    await sleep(20); // a quiet spell after each: the loop polls for the budget, then sleeps
  }
  c.close();
  await sleep(50);
  const after = await loopSeconds();
  const polled = after.poll - before.poll;
  // each REGISTER's turns (the client's, the core's answer) end in a spell of the full budget
  assert.ok(polled >= (5 * BUDGET_US) / 1e6, `polled ${polled} s`);
  assert.ok(polled < 1, `polled ${polled} s`);
});

test('an idle gateway sleeps: the budget is spent once per quiet spell, not for ever', async () => {
  const a = await loopSeconds();
  await sleep(1500);
  const b = await loopSeconds();
  // between the two scrapes: one spell after the first (5 ms) and the metrics' once-a-second
  // timers' spells; a loop that never slept would have spent the whole 1.5 s
  assert.ok(b.poll - a.poll < 0.1, `polled ${b.poll - a.poll} s while idle`);
  assert.ok(b.cpu - a.cpu < 0.2, `loop on a CPU ${b.cpu - a.cpu} s while idle`);
});
