// Issue 16 item 5: the operator page and its API (docs/operator.md). Refused without the
// operator's credential (401, no data), with a wrong one too; lists alice's registration and
// call while they exist and nothing after; removes a registration (edge + upstream
// de-REGISTER + close 4401); admin-listen moves /admin and /metrics off the WebSocket port.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import WebSocket from 'ws';
import { startStack, freePort, sleep, stubRegisterCount, stubRegistersReach, SipWs, registerMsg, token } from './harness.mjs';
import { Ua, SDP } from './sipua.mjs';

const PASSWORD = 'op-secret-0123456789';
const basic = (user, pw) => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;
const OK_AUTH = { authorization: basic('operator', PASSWORD) };

/** A stack whose gateway has the operator credential (and the extra flags of more(stack)). */
async function operatorStack(more = () => []) {
  return startStack({
    users: ['alice', 'bob'],
    gatewayArgs: (s) => {
      const file = path.join(s.dir, 'operator-password');
      fs.writeFileSync(file, `${PASSWORD}\n`, { mode: 0o600 });
      return ['--admin-credential-file', file, ...more(s)];
    },
  });
}

/** A free port whose next one is free too: worker 1 listens on port + 1 (SIP and admin-listen). */
const portFree = (port) => new Promise((resolve) => {
  const s = net.createServer().once('error', () => resolve(false))
    .listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
});
async function pairPort() {
  for (;;) {
    const p = await freePort();
    if (await portFree(p + 1)) return p;
  }
}
/** Flags for two workers with admin-listen on adminPort (and its next port). */
const twoWorkers = async (adminPort) =>
  ['--workers', '2', '--admin-listen', `127.0.0.1:${adminPort}`, '--sip-listen', `sip:127.0.0.1:${await pairPort()}`];

let stack;
before(async () => { stack = await operatorStack(); });
after(async () => {
  const results = await stack.stop();
  for (const [name, r] of Object.entries(results)) assert.deepEqual(r, { code: 0, sig: null }, name);
});

const get = (url, headers = {}) => fetch(url, { headers });
const state = async (s = stack, query = '') => {
  const r = await get(`${s.httpUrl}/admin/api/state${query}`, OK_AUTH);
  assert.equal(r.status, 200);
  return r.json();
};
const until = async (what, check, ms = 3000) => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
};

test('without the credential: 401 with a Basic challenge and no data, on the page, the API and /metrics', async () => {
  const alice = await Ua.register(stack, 'alice');
  for (const p of ['/admin', '/admin/', '/admin/operator.js', '/admin/api/state', '/metrics']) {
    const r = await get(`${stack.httpUrl}${p}`);
    assert.equal(r.status, 401, p);
    assert.match(r.headers.get('www-authenticate'), /^Basic realm="imsgw operator"/, p);
    const body = await r.text();
    assert.doesNotMatch(body, /alice|imsgw_/, `${p} leaks nothing`);
  }
  const post = await fetch(`${stack.httpUrl}/admin/api/flows/1/deregister`, { method: 'POST', headers: { 'x-imsgw-operator': '1' } });
  assert.equal(post.status, 401);
  assert.equal(alice.ws.ws.readyState, WebSocket.OPEN, 'nothing was removed');
  alice.close();
});

test('a wrong credential is refused, counted and shown among recent errors without the password', async () => {
  const failures = async () => {
    const text = await (await get(`${stack.httpUrl}/metrics`, OK_AUTH)).text();
    return Number(/^imsgw_admin_auth_failures_total (\d+)$/m.exec(text)[1]);
  };
  const n0 = await failures();
  for (const auth of [basic('operator', 'guess-guess-guess-1'), basic('admin', PASSWORD), `Bearer ${PASSWORD}`,
    basic('operator', `${PASSWORD}x`), 'Basic !!!notbase64']) {
    const r = await get(`${stack.httpUrl}/admin/api/state`, { authorization: auth });
    assert.equal(r.status, 401, auth);
  }
  assert.equal(await failures(), n0 + 5);
  const s = await state();
  const line = s.errors.find((e) => /wrong operator credential from 127\.0\.0\.1/.test(e.text));
  assert.ok(line, JSON.stringify(s.errors));
  assert.equal(line.level, 'warn');
  assert.ok(Math.abs(line.time - Date.now() / 1000) < 30);
  assert.doesNotMatch(JSON.stringify(s), new RegExp(PASSWORD));
});

test("the listing shows alice's registration and call while they exist, and nothing after", async () => {
  const alice = await Ua.register(stack, 'alice');
  const bob = await Ua.register(stack, 'bob');
  let s = await state();
  const reg = s.registrations.items.find((r) => r.aor === 'sip:alice@ims.test');
  assert.ok(reg, JSON.stringify(s.registrations));
  assert.equal(reg.instance, `urn:uuid:${alice.instance}`);
  assert.equal(s.registrations.total, 2, 'alice and bob, no one else');
  assert.ok(reg.expires_in_s > 500 && reg.expires_in_s <= 600, `expires in ${reg.expires_in_s}`);
  const flow = s.flows.items.find((f) => f.id === reg.flow);
  assert.ok(flow && flow.registered && flow.peer === '127.0.0.1' && flow.age_s >= 0, JSON.stringify(s.flows));
  assert.ok(s.sources.items.find((x) => x.source === '127.0.0.1').connections >= 2);
  assert.equal(s.counts.registrations, 2);
  assert.equal(s.counts.dialogs, 0);
  assert.equal(s.worker, 0);
  assert.equal(s.workers, 1);

  const tx = alice.request('INVITE', bob.aor, { body: SDP('alice') });
  const inv = await bob.waitRequest('INVITE');
  const bobDialog = bob.respond(inv, 200, 'OK', { body: SDP('bob') });
  const d = alice.dialogFrom(tx, await alice.waitStatus(200, 'INVITE'));
  alice.inDialog(d, 'ACK');
  await bob.waitRequest('ACK');
  s = await until('the call', async () => { const x = await state(); return x.counts.dialogs === 2 && x; });
  const call = s.dialogs.items.find((x) => x.flow === reg.flow);
  assert.deepEqual({ state: call.state, direction: call.direction, local: call.local, remote: call.remote },
    { state: 'confirmed', direction: 'outgoing', local: 'sip:alice@ims.test', remote: 'sip:bob@ims.test' });
  assert.match(call.call, /^[0-9a-f]{12}$/, 'a hash, not the Call-ID');
  assert.doesNotMatch(JSON.stringify(s), new RegExp(tx.callId.replace(/[.]/g, '\\.')));
  assert.equal(s.dialogs.items.find((x) => x.flow !== reg.flow).direction, 'incoming');

  // bounded lists: limit and offset page through them, totals stay whole
  const page1 = await state(stack, '?limit=1');
  const page2 = await state(stack, '?limit=1&offset=1');
  assert.equal(page1.flows.items.length, 1);
  assert.equal(page1.flows.total, 2);
  assert.notEqual(page1.flows.items[0].id, page2.flows.items[0].id);
  assert.equal((await state(stack, '?limit=999999')).flows.items.length, 2, 'a large limit is capped, not refused');

  alice.inDialog(d, 'BYE');
  bob.respond(await bob.waitRequest('BYE'), 200, 'OK');
  await alice.waitStatus(200, 'BYE');
  void bobDialog;
  await until('the call gone', async () => (await state()).counts.dialogs === 0);
  alice.close();
  bob.close();
  s = await until('the registrations gone', async () => { const x = await state(); return x.counts.flows === 0 && x; });
  assert.equal(s.registrations.total, 0);
  assert.equal(s.registrations.items.length, 0);
  assert.equal(s.dialogs.items.length, 0);
  assert.equal(s.sources.items.length, 0);
});

test('a registration whose instance is cut mid-character, or is not UTF-8, is still listed (not hidden from the operator)', async () => {
  // The +sip.instance is the client's text: 150 two-byte characters are cut inside one at the
  // listing's 200 bytes, and a binary frame can carry bytes that are not UTF-8 at all. Either
  // made the row fail to encode and vanish while the total still counted it.
  const tok = token(stack, 'alice');
  const contact = (inst) => `Contact: <sip:k3v9@q7k2m9x4.invalid;transport=ws>;+sip.instance="<urn:${inst}>";reg-id=1`;
  const reg = async (inst, binary) => {
    // the 200 echoes the Contact in a text frame: the bytes sent are not checked as UTF-8 here
    const c = await SipWs.open(stack.wsUrl, 'sip', { skipUTF8Validation: true });
    const msg = registerMsg({ callId: `utf8-${binary}`, auth: `Bearer ${tok}` })
      .replace(/^Contact: .*$/m, contact(inst));
    if (binary) c.ws.send(Buffer.from(msg, 'latin1')); else c.send(msg);
    const r = parseSipText(await c.next());
    assert.equal(r, 200, `${binary ? 'binary' : 'text'} REGISTER`);
    return c;
  };
  const parseSipText = (t) => Number(/^SIP\/2\.0 (\d{3})/.exec(t)[1]);
  const cut = await reg('x-'.concat('\u00e9'.repeat(150)), false);
  let s = await state();
  assert.equal(s.registrations.items.length, s.registrations.total, JSON.stringify(s.registrations));
  assert.match(s.registrations.items[0].instance, /^urn:x-\u00e9+/);
  cut.close();
  await until('the first gone', async () => (await state()).counts.flows === 0);
  const raw = await reg('x-\u00ff\u00fe', true);
  s = await state();
  assert.equal(s.registrations.total, 1);
  assert.equal(s.registrations.items.length, 1, JSON.stringify(s.registrations));
  assert.match(s.registrations.items[0].instance, /^urn:x-/);
  raw.close();
  await until('the second gone', async () => (await state()).counts.flows === 0);
});

test("removing alice's registration: edge state gone, de-REGISTER upstream, her flow closed with 4401", async () => {
  const alice = await Ua.register(stack, 'alice');
  const bob = await Ua.register(stack, 'bob');
  const reg = (await state()).registrations.items.find((r) => r.instance === `urn:uuid:${alice.instance}`);
  const url = `${stack.httpUrl}/admin/api/flows/${reg.flow}/deregister`;
  // the browser-sent credential alone is not enough for a change: CSRF
  const csrf = await fetch(url, { method: 'POST', headers: OK_AUTH });
  assert.equal(csrf.status, 403);
  assert.equal(alice.ws.ws.readyState, WebSocket.OPEN);
  assert.equal((await fetch(url, { headers: OK_AUTH })).status, 404, 'GET does not remove');
  // and a cross-site page cannot add the header: its CORS preflight is never granted
  const preflight = await fetch(url, { method: 'OPTIONS', headers: { origin: 'http://evil.example',
    'access-control-request-method': 'POST', 'access-control-request-headers': 'x-imsgw-operator' } });
  assert.equal(preflight.status, 405);
  assert.equal(preflight.headers.get('access-control-allow-origin'), null);
  assert.equal(preflight.headers.get('access-control-allow-headers'), null);

  const n0 = stubRegisterCount(stack);
  const closed = new Promise((resolve) => alice.ws.ws.on('close', (code) => resolve(code)));
  const r = await fetch(url, { method: 'POST', headers: { ...OK_AUTH, 'x-imsgw-operator': '1' } });
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { removed: true, flow: reg.flow, aor: 'sip:alice@ims.test' });
  assert.equal(await Promise.race([closed, sleep(2000).then(() => 'still open')]), 4401);
  assert.equal(await stubRegistersReach(stack, n0 + 1), n0 + 1, 'the de-REGISTER reached the core');
  assert.match(stack.gateway.log, /removed by the operator; de-REGISTER sent for sip:alice@ims\.test/);
  // the core no longer has her: a message to alice is "not registered"
  bob.request('MESSAGE', 'sip:alice@ims.test', { body: 'x', contentType: 'text/plain' });
  assert.equal((await bob.waitResponse((x) => x.status >= 400)).status, 480);
  const s = await state();
  assert.equal(s.registrations.items.filter((x) => x.aor === 'sip:alice@ims.test').length, 0);
  const again = await fetch(url, { method: 'POST', headers: { ...OK_AUTH, 'x-imsgw-operator': '1' } });
  assert.equal(again.status, 404);
  for (const p of ['/admin/api/flows/x/deregister', '/admin/api/flows/-1/deregister', '/admin/api/flows/ 1/deregister',
    `/admin/api/flows/${reg.flow}/deregisterx`, '/admin/x', '/admin', '/admin/api/flows/'])
    assert.equal((await fetch(`${stack.httpUrl}${p}`, { method: 'POST', headers: { ...OK_AUTH, 'x-imsgw-operator': '1' } })).status, 404, p);
  bob.close();
});

test('the page is served with the credential, framing and foreign scripts forbidden', async () => {
  const r = await get(`${stack.httpUrl}/admin/`, OK_AUTH);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/html/);
  assert.match(r.headers.get('content-security-policy'), /frame-ancestors 'none'/);
  assert.match(r.headers.get('content-security-policy'), /script-src 'self'/);
  assert.equal(r.headers.get('x-frame-options'), 'DENY');
  assert.match(await r.text(), /imsgw operator/);
  const js = await get(`${stack.httpUrl}/admin/operator.js`, OK_AUTH);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type'), /javascript/);
  assert.equal((await get(`${stack.httpUrl}/admin/nothing`, OK_AUTH)).status, 404);
});

test('admin-listen: /admin and /metrics leave the WebSocket port for their own address', async () => {
  const adminPort = await freePort();
  const s = await operatorStack(() => ['--admin-listen', `127.0.0.1:${adminPort}`]);
  try {
    const admin = `http://127.0.0.1:${adminPort}`;
    for (const p of ['/metrics', '/admin/', '/admin/api/state'])
      assert.equal((await get(`${s.httpUrl}${p}`, OK_AUTH)).status, 404, `${p} on the WebSocket port`);
    assert.equal((await get(`${s.httpUrl}/healthz`)).status, 200);
    const m = await get(`${admin}/metrics`);
    assert.equal(m.status, 200, 'the address is the restriction: Prometheus scrapes it plainly');
    assert.match(await m.text(), /^imsgw_ws_connections 0$/m);
    assert.equal((await get(`${admin}/admin/api/state`)).status, 401, 'the page still needs the credential');
    assert.equal((await get(`${admin}/admin/api/state`, OK_AUTH)).status, 200);
    assert.equal((await get(`${admin}/healthz`)).status, 200);
    assert.equal((await get(`${admin}/`)).status, 404, 'no web client here');
    const ws = new WebSocket(`ws://127.0.0.1:${adminPort}/sip`, 'sip');
    const outcome = await new Promise((resolve) => {
      ws.on('open', () => resolve('open'));
      ws.on('unexpected-response', (req, res) => resolve(res.statusCode));
      ws.on('error', () => resolve('error'));
    });
    assert.notEqual(outcome, 'open', 'no SIP WebSocket on the admin address');
    ws.terminate();
  } finally {
    const results = await s.stop();
    for (const [name, r] of Object.entries(results)) assert.deepEqual(r, { code: 0, sig: null }, name);
  }
});

test('with two workers each serves its own state on admin-listen port + its number; the Grafana dashboard queries only series /metrics has', async () => {
  const adminPort = await pairPort();
  const flags = await twoWorkers(adminPort);
  const s = await operatorStack(() => flags);
  try {
    for (const w of [0, 1]) {
      const r = await until(`worker ${w}`, async () => {
        const x = await get(`http://127.0.0.1:${adminPort + w}/admin/api/state`, OK_AUTH).catch(() => null);
        return x?.ok && x;
      }, 10000);
      const st = await r.json();
      assert.deepEqual([st.worker, st.workers], [w, 2]);
    }
    // /metrics on either sums both workers
    const m = await (await get(`http://127.0.0.1:${adminPort + 1}/metrics`)).text();
    assert.match(m, /^imsgw_workers 2$/m);
    // The Grafana dashboard cannot drift: every series it queries is in this output (a
    // multi-worker gateway's, which has every single-worker series too).
    const dashboard = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '../../docs/grafana-imsgw.json'), 'utf8'));
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    const used = new Set(exprs.flatMap((e) => e.match(/\bimsgw_[a-z0-9_]+/g) || []));
    assert.ok(used.size >= 25, `the dashboard uses ${used.size} series`);
    const missing = [...used].filter((n) => !new RegExp(`^${n}(\\{| )`, 'm').test(m));
    assert.deepEqual(missing, [], 'series the dashboard queries but /metrics does not have');
  } finally {
    const results = await s.stop();
    for (const [name, r] of Object.entries(results)) assert.deepEqual(r, { code: 0, sig: null }, name);
  }
});

test('two workers: either worker answers one combined listing, rows labelled by worker; a silent worker is reported missing', async () => {
  const adminPort = await pairPort();
  const flags = await twoWorkers(adminPort);
  const users = Array.from({ length: 12 }, (_, i) => `u${i}`);
  const s = await startStack({
    users,
    gatewayArgs: (st) => {
      const file = path.join(st.dir, 'operator-password');
      fs.writeFileSync(file, `${PASSWORD}\n`, { mode: 0o600 });
      return ['--admin-credential-file', file, ...flags];
    },
  });
  const uas = [];
  const combined = async (w) => {
    const r = await get(`http://127.0.0.1:${adminPort + w}/admin/api/state`, OK_AUTH);
    assert.equal(r.status, 200);
    return r.json();
  };
  try {
    for (const w of [0, 1])
      await until(`worker ${w} up`, async () => (await get(`http://127.0.0.1:${adminPort + w}/healthz`).catch(() => null))?.ok, 10000);
    // register until the kernel has spread the connections over both workers
    let st;
    for (const user of users) {
      uas.push(await Ua.register(s, user));
      st = await combined(0);
      if (new Set(st.registrations.items.map((x) => x.worker)).size === 2) break;
    }
    const byWorker = (list) => [0, 1].map((w) => list.items.filter((x) => x.worker === w).length);
    for (const w of [0, 1]) {
      st = await combined(w);
      assert.equal(st.combined, true);
      assert.deepEqual([st.worker, st.workers], [w, 2]);
      assert.deepEqual(st.missing, []);
      assert.equal(st.registrations.total, uas.length, JSON.stringify(st.registrations));
      assert.equal(st.counts.registrations, uas.length, 'counts summed over the workers');
      assert.equal(st.counts.flows, uas.length);
      const [on0, on1] = byWorker(st.registrations);
      assert.ok(on0 > 0 && on1 > 0 && on0 + on1 === uas.length, `rows by worker ${on0}/${on1}`);
      assert.deepEqual(new Set(st.registrations.items.map((x) => x.aor)), new Set(uas.map((u) => u.aor)));
      for (const r of st.registrations.items)
        assert.ok(st.flows.items.some((f) => f.worker === r.worker && f.id === r.flow), 'flow found under its worker');
    }
    // local=1 is one worker's own view (what a sibling answers)
    const own = await (await get(`http://127.0.0.1:${adminPort + 1}/admin/api/state?local=1`, OK_AUTH)).json();
    assert.equal(own.combined, undefined);
    assert.ok(own.registrations.total > 0 && own.registrations.total < uas.length);
    // a removal through worker 0's listener of a registration that worker 1 holds is relayed there
    const far = st.registrations.items.find((x) => x.worker === 1);
    const post = (w, q, headers = {}) => fetch(`http://127.0.0.1:${adminPort + w}/admin/api/flows/${far.flow}/deregister${q}`,
      { method: 'POST', headers: { ...OK_AUTH, ...headers } });
    assert.equal((await post(0, '?worker=1')).status, 403, 'the relay still needs the operator header');
    assert.equal((await post(0, '?worker=7', { 'x-imsgw-operator': '1' })).status, 404, 'no such worker');
    const removed = await post(0, '?worker=1', { 'x-imsgw-operator': '1' });
    assert.equal(removed.status, 200);
    assert.deepEqual(await removed.json(), { removed: true, flow: far.flow, aor: far.aor });
    const after = await until('the removal in the listing', async () => {
      const x = await combined(0);
      return !x.registrations.items.some((y) => y.aor === far.aor) && x;
    });
    assert.equal(after.registrations.total, uas.length - 1);
    assert.match(s.gateway.log, new RegExp(`removed by the operator; de-REGISTER sent for ${far.aor.replace(/[.]/g, '\\.')}`));
    // the credential is needed for the combined view as for the rest
    assert.equal((await get(`http://127.0.0.1:${adminPort}/admin/api/state`)).status, 401);

    // a worker that does not answer (stopped) is reported missing within the bound, not dropped
    const sup = s.gateway.proc.pid;
    const kids = fs.readFileSync(`/proc/${sup}/task/${sup}/children`, 'utf8').trim().split(/\s+/).map(Number);
    assert.equal(kids.length, 2, `worker processes ${kids}`);
    process.kill(kids[1], 'SIGSTOP');
    try {
      const answers = await Promise.all([0, 1].map(async (w) => {
        const t0 = Date.now();
        const r = await fetch(`http://127.0.0.1:${adminPort + w}/admin/api/state`,
          { headers: OK_AUTH, signal: AbortSignal.timeout(2500) }).catch(() => null);
        return r?.ok ? { ...(await r.json()), ms: Date.now() - t0 } : null;
      }));
      const live = answers.filter(Boolean);
      assert.equal(live.length, 1, 'the running worker answers, the stopped one cannot');
      const [a] = live;
      assert.deepEqual(a.missing, [1 - a.worker]);
      assert.ok(a.ms >= 900 && a.ms < 2000, `answered after ${a.ms} ms`);
      assert.equal(a.registrations.total, a.registrations.items.length);
      assert.ok(a.registrations.items.every((x) => x.worker === a.worker));
    } finally {
      process.kill(kids[1], 'SIGCONT');
    }
  } finally {
    for (const ua of uas) ua.close();
    const results = await s.stop();
    for (const [name, r] of Object.entries(results)) assert.deepEqual(r, { code: 0, sig: null }, name);
  }
});

test('without admin-credential-file there is no operator page; /metrics stays as it was', async () => {
  const s = await startStack({ users: ['alice'] });
  try {
    assert.equal((await get(`${s.httpUrl}/admin/`)).status, 404);
    assert.equal((await get(`${s.httpUrl}/admin/api/state`, OK_AUTH)).status, 404);
    assert.equal((await get(`${s.httpUrl}/metrics`)).status, 200);
  } finally {
    await s.stop();
  }
});

test('a credential file that is too short, or readable by others, stops the start', async () => {
  const { execFileSync } = await import('node:child_process');
  const { bin } = await import('./harness.mjs');
  const dir = fs.mkdtempSync(path.join(stack.dir, 'cred-'));
  const run = (file) => {
    try {
      execFileSync(bin('imsgw-gateway'), ['--port', '1', '--admin-credential-file', file], { stdio: 'pipe', timeout: 10000 });
      return { code: 0, err: '' };
    } catch (e) { return { code: e.status, err: e.stderr.toString() }; }
  };
  const short = path.join(dir, 'short');
  fs.writeFileSync(short, 'tooshort\n', { mode: 0o600 });
  let r = run(short);
  assert.equal(r.code, 2);
  assert.match(r.err, /password must be one line of 16 to 512 characters/);
  const open = path.join(dir, 'open');
  fs.writeFileSync(open, `${PASSWORD}\n`, { mode: 0o644 });
  fs.chmodSync(open, 0o644);
  r = run(open);
  assert.equal(r.code, 2);
  assert.match(r.err, /admin-credential-file/);
  r = (() => {
    try {
      execFileSync(bin('imsgw-gateway'), ['--admin-listen', '10.1.2.3:9180'], { stdio: 'pipe', timeout: 10000 });
      return { code: 0, err: '' };
    } catch (e) { return { code: e.status, err: e.stderr.toString() }; }
  })();
  assert.equal(r.code, 2);
  assert.match(r.err, /admin-listen 10\.1\.2\.3:9180 is plain http on a non-loopback address/);
});
