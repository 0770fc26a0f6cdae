// Issue 13: at its file-descriptor limit the gateway refuses newcomers, it does not fail everyone.
// The gateway runs under `prlimit --nofile=200:200` and asks for max-connections 5000: it must
// clamp that at start (and say so), answer further upgrades with 503 + Retry-After, and keep
// registering the clients it already holds (its TCP trunk to the core needs descriptors too).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startStack, SipWs, registerMsg, token, sleep, freePort } from './harness.mjs';

const NOFILE = 200;
let stack, recoveryPort;
before(async () => {
  recoveryPort = await freePort();
  stack = await startStack({
    gatewayWrapper: ['prlimit', `--nofile=${NOFILE}:${NOFILE}`, '--'],
    // the recovery port (flow recovery across workers) shares the same connection budget
    gatewayArgs: ['--max-connections', '5000', '--max-connections-per-source', '5000',
      '--recovery-port', String(recoveryPort)],
  });
});
after(async () => {
  const results = await stack.stop();
  for (const [name, r] of Object.entries(results)) assert.deepEqual(r, { code: 0, sig: null }, name);
});

/** Opens a SIP WebSocket; resolves { ws } or { status, retryAfter } when the upgrade is refused. */
function tryOpen(url) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, 'sip');
    ws.on('open', () => resolve({ ws }));
    ws.on('unexpected-response', (req, res) => {
      resolve({ status: res.statusCode, retryAfter: res.headers['retry-after'] });
      req.destroy();
    });
    ws.on('error', (e) => resolve({ error: e.message }));
  });
}

test('max-connections is clamped to the descriptor limit; when full, upgrades get 503 + Retry-After and registered users carry on', async () => {
  const m = /max-connections 5000 is more than the file-descriptor limit \(200[^)]*\) allows: using (\d+)/
    .exec(stack.gateway.log);
  assert.ok(m, `the start log names the clamp:\n${stack.gateway.log}`);
  const room = Number(m[1]);
  assert.ok(room > 10 && room < NOFILE - 50, `room ${room} leaves a reserve`);

  const users = [];
  for (const user of ['alice', 'bob']) {
    const c = await SipWs.open(stack.wsUrl);
    const rsp = await c.request(registerMsg({ user, callId: `fd-${user}`, auth: `Bearer ${token(stack, user)}` }));
    assert.equal(rsp.status, 200, rsp.text);
    users.push({ c, user });
  }
  const idle = [];
  while (idle.length < room - users.length) {
    const batch = await Promise.all(Array.from({ length: Math.min(20, room - users.length - idle.length) },
      () => tryOpen(stack.wsUrl)));
    for (const r of batch) {
      assert.ok(r.ws, `connection ${idle.length + 1} of ${room} opens: ${JSON.stringify(r)}`);
      idle.push(r.ws);
    }
  }
  // Full: every newcomer gets a clean 503 with Retry-After, in waves of ten at once.
  for (let wave = 0; wave < 4; wave++) {
    const refused = await Promise.all(Array.from({ length: 10 }, () => tryOpen(stack.wsUrl)));
    for (const r of refused) {
      if (r.ws) r.ws.close();
      assert.equal(r.status, 503, JSON.stringify(r));
      assert.equal(r.retryAfter, '5');
    }
  }
  // The recovery port is no way around the limit: the same 503.
  const viaRecovery = await Promise.all(Array.from({ length: 10 }, () => tryOpen(`ws://127.0.0.1:${recoveryPort}/sip`)));
  for (const r of viaRecovery) {
    if (r.ws) r.ws.close();
    assert.equal(r.status, 503, `recovery port: ${JSON.stringify(r)}`);
  }
  // The users already there re-register through the core trunk as before.
  for (const { c, user } of users) {
    const rsp = await c.request(registerMsg({ user, callId: `fd-${user}`, cseq: 2,
      auth: `Bearer ${token(stack, user)}` }));
    assert.equal(rsp.status, 200, rsp.text);
  }
  const metrics = await (await fetch(`${stack.httpUrl}/metrics`)).text();
  assert.match(metrics, new RegExp(`^imsgw_ws_connections ${room}$`, 'm'));
  assert.match(metrics, /^imsgw_ws_refused_full_total 50$/m);
  // Room again once some leave.
  for (const ws of idle.splice(0, 5)) ws.close();
  await sleep(300);
  const again = await tryOpen(stack.wsUrl);
  assert.ok(again.ws, JSON.stringify(again));
  again.ws.close();
  for (const ws of idle) ws.close();
  for (const { c } of users) c.close();
});
