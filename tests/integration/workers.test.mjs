// Issue 13: two gateway workers behind one WebSocket port (SO_REUSEPORT). Clients land on both;
// the core reaches each user through the worker that holds the flow (its own SIP port in Path /
// Record-Route); a killed worker is restarted and its users register again; /metrics sums both.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startStack, freePort, sleep, SipWs } from './harness.mjs';
import { Ua } from './sipua.mjs';

const USERS = Array.from({ length: 16 }, (_, i) => `u${i}`);
let stack, sipPort;
const uas = [];

const portFree = (port) => new Promise((resolve) => {
  const s = net.createServer().once('error', () => resolve(false))
    .listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
});

before(async () => {
  do sipPort = await freePort(); while (!(await portFree(sipPort + 1)));
  stack = await startStack({ users: USERS, gatewayArgs: ['--workers', '2', '--sip-listen', `sip:127.0.0.1:${sipPort}`] });
});
after(async () => {
  for (const ua of uas) ua.close();
  const results = await stack.stop();
  for (const [name, r] of Object.entries(results)) assert.deepEqual(r, { code: 0, sig: null }, name);
});

const metricsText = async () => (await fetch(`${stack.httpUrl}/metrics`)).text();

/** The worker holding ua's flow: a MESSAGE to itself comes back through it (its Via port). */
async function workerOf(ua) {
  ua.request('MESSAGE', ua.aor, { body: 'where am I', contentType: 'text/plain' });
  const m = await ua.waitRequest('MESSAGE');
  ua.respond(m, 200, 'OK');
  await ua.waitStatus(200, 'MESSAGE');
  const port = Number(/^SIP\/2\.0\/WS 127\.0\.0\.1:(\d+);/.exec(m.headers.via[0])[1]);
  assert.ok(port === sipPort || port === sipPort + 1, m.headers.via[0]);
  return port - sipPort;
}

let onWorker; // one registered Ua per worker

test('clients land on both workers; each worker has its own SIP port in Path and Via', async () => {
  onWorker = [];
  for (const user of USERS) {
    const ua = await Ua.register(stack, user);
    uas.push(ua);
    onWorker[await workerOf(ua)] ??= ua;
    if (onWorker[0] && onWorker[1]) break;
  }
  assert.ok(onWorker[0] && onWorker[1], 'the kernel spread the connections over both workers');
  // Each worker publishes its counters every second: wait (bounded) for both to be counted.
  let text;
  for (const until = Date.now() + 5000; Date.now() < until; await sleep(200)) {
    text = await metricsText();
    if (new RegExp(`^imsgw_ws_connections ${uas.length}$`, 'm').test(text)) break;
  }
  assert.match(text, /^imsgw_workers 2$/m);
  assert.match(text, new RegExp(`^imsgw_ws_connections ${uas.length}$`, 'm'), 'summed over workers');
  assert.match(text, new RegExp(`^imsgw_registrations ${uas.length}$`, 'm'));
  assert.match(text, /^imsgw_worker_ws_connections\{worker="0"\} [1-9]/m);
  assert.match(text, /^imsgw_worker_ws_connections\{worker="1"\} [1-9]/m);
  // each worker checked the signatures of its own clients' tokens (a storm spreads them)
  assert.match(text, /^imsgw_worker_token_signature_checks_total\{worker="0"\} [1-9]/m);
  assert.match(text, /^imsgw_worker_token_signature_checks_total\{worker="1"\} [1-9]/m);
});

test('a request from the core reaches the worker that holds the callee', async () => {
  const [a, b] = onWorker;
  a.request('MESSAGE', b.aor, { body: 'from worker 0', contentType: 'text/plain' });
  const m = await b.waitRequest('MESSAGE');
  assert.equal(m.body, 'from worker 0');
  assert.match(m.headers.via[0], new RegExp(`127\\.0\\.0\\.1:${sipPort + 1};`));
  b.respond(m, 200, 'OK');
  await a.waitStatus(200, 'MESSAGE');
});

test('a killed worker is restarted; its users register again and are reached; the other worker is untouched', async () => {
  const [a, b] = onWorker;
  const pid = Number(/worker 1 started \(pid (\d+)\)/.exec(stack.gateway.log)[1]);
  process.kill(pid, 'SIGKILL');
  assert.ok(await Promise.race([b.ws.closed.then(() => true), sleep(5000).then(() => false)]),
    'the dead worker\'s client sees its connection close');
  const until = Date.now() + 10000;
  while ((stack.gateway.log.match(/worker 1 started/g) || []).length < 2 && Date.now() < until) await sleep(50);
  assert.match(stack.gateway.log, /worker 1 \(pid \d+\) died on signal 9; restarting it/);
  assert.equal((stack.gateway.log.match(/worker 1 started/g) || []).length, 2, 'worker 1 restarted');
  // The client reconnects as the web client does: same instance, fresh connection.
  const again = await Ua.register(stack, b.user, { instance: b.instance });
  uas.push(again);
  a.request('MESSAGE', again.aor, { body: 'after the restart', contentType: 'text/plain' });
  const m = await again.waitRequest('MESSAGE');
  assert.equal(m.body, 'after the restart');
  again.respond(m, 200, 'OK');
  await a.waitStatus(200, 'MESSAGE');
  assert.equal(await workerOf(a), 0, 'worker 0\'s client kept its connection');
  assert.match(await metricsText(), /^imsgw_worker_restarts_total 1$/m);
  // The restarted worker never gives a new connection the id of one its predecessor had: the
  // core still holds flow tokens naming those (same instance, same worker number).
  const died = stack.gateway.log.search(/worker 1 \(pid \d+\) died/);
  const ids = (text) => [...text.matchAll(/imsgw-gateway\/1 \w+: ws: connection (\d+) open/g)].map((x) => x[1]);
  const opened = [];
  for (let i = 0; i < 40 && ids(stack.gateway.log.slice(died)).length < 2; i++) { // the kernel picks the worker
    opened.push(await SipWs.open(stack.wsUrl));
    await sleep(20);
  }
  for (const c of opened) c.close();
  const before = ids(stack.gateway.log.slice(0, died)), after = ids(stack.gateway.log.slice(died));
  assert.ok(before.length > 0 && after.length > 0, `connections on worker 1 before (${before}) and after (${after})`);
  assert.deepEqual(after.filter((id) => before.includes(id)), [], 'no connection id used again');
});
