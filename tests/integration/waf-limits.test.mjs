// Issue 9 item 8 at the WAF: a stranger failing for alice cannot lock her out; a source is
// bounded; /device_authorization is rate-limited with an OAuth slow_down; the client address
// comes from X-Forwarded-For only behind trusted-proxies (the test's "proxy" is 127.0.0.2).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startWaf, pkce, authorizeUrl } from './waf-helpers.mjs';
import { sleep } from './harness.mjs';

let waf;
before(async () => {
  waf = await startWaf(['--trusted-proxies', '127.0.0.2', '--login-max-failures-ip', '8',
    '--device-authorization-per-source', '3']);
});
after(async () => {
  const r = await waf.stop();
  assert.deepEqual(r, { code: 0, sig: null });
});

/** One HTTP request from localAddress, optionally as forwarded for client xff. */
function request(method, path, { body = null, headers = {}, localAddress = '127.0.0.1', xff = null } = {}) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    if (xff) h['x-forwarded-for'] = xff;
    if (body !== null) {
      h['content-type'] = 'application/x-www-form-urlencoded';
      h['content-length'] = Buffer.byteLength(body);
    }
    const req = http.request({ host: '127.0.0.1', port: waf.port, method, path, headers: h, localAddress }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(text); } catch { /* html */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end(body ?? undefined);
  });
}

/** The sign-in form, then a POST of user/password, both from the same client. */
async function signIn(user, password, from) {
  const { challenge } = pkce();
  const url = authorizeUrl({ code_challenge: challenge, code_challenge_method: 'S256' });
  const page = await request('GET', url, from);
  const cookie = (page.headers['set-cookie']?.[0] || '').split(';')[0];
  const form = new URLSearchParams();
  for (const m of page.text.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
    form.append(m[1], m[2].replace(/&amp;/g, '&').replace(/&quot;/g, '"'));
  form.append('username', user);
  form.append('password', password);
  return request('POST', '/authorize', { ...from, body: form.toString(), headers: { cookie } });
}

const stranger = { localAddress: '127.0.0.2', xff: '203.0.113.66' };
const alicesPhone = { localAddress: '127.0.0.2', xff: '198.51.100.7' };

test('a stranger failing for alice backs off; alice from her address signs in', async () => {
  for (let i = 0; i < 3; i++) assert.equal((await signIn('alice', 'wrong-password-x', stranger)).status, 401);
  const held = await signIn('alice', 'wrong-password-x', stranger);
  assert.equal(held.status, 429);
  assert.match(held.text, /Too many failed sign-ins/);
  const wait = Number(held.headers['retry-after']);
  assert.ok(wait >= 1 && wait <= 2, `a short back-off, not a lock (${wait} s)`);
  const ok = await signIn('alice', waf.passwords.alice, alicesPhone);
  assert.equal(ok.status, 303, 'alice is not locked out by the stranger');
  for (let i = 0; i < 40 && !/sign-in ok for alice/.test(waf.log); i++) await sleep(25);
  assert.match(waf.log, /sign-in throttled for alice from 203\.0\.113\.66/);
  assert.match(waf.log, /sign-in ok for alice from 198\.51\.100\.7/);
});

test('one source is bounded across users (login-max-failures-ip)', async () => {
  const guesser = { localAddress: '127.0.0.2', xff: '203.0.113.77' };
  let refused = null;
  for (const u of ['bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hal', 'ivan', 'judy', 'ken']) {
    const r = await signIn(u, 'wrong-password-y', guesser);
    if (r.status === 429) { refused = r; break; }
    assert.equal(r.status, 401);
  }
  assert.ok(refused, 'the source was paused');
  assert.match(refused.text, /from your network/);
  assert.equal((await signIn('bob', waf.passwords.bob, alicesPhone)).status, 303, 'others go on');
});

test('X-Forwarded-For from a peer that is not a trusted proxy is ignored', async () => {
  const forged = { localAddress: '127.0.0.1', xff: '198.51.100.7' };
  assert.equal((await signIn('carol', 'wrong-password-z', forged)).status, 401);
  for (let i = 0; i < 40 && !/sign-in failed for carol from 127/.test(waf.log); i++) await sleep(25);
  assert.match(waf.log, /sign-in failed for carol from 127\.0\.0\.1\n/);
});

test('/device_authorization is rate-limited per source with 429 slow_down', async () => {
  const body = new URLSearchParams({ client_id: 'wic', scope: 'ims:register' }).toString();
  const tv = { localAddress: '127.0.0.2', xff: '192.0.2.10' };
  for (let i = 0; i < 3; i++) assert.equal((await request('POST', '/device_authorization', { ...tv, body })).status, 200);
  const slow = await request('POST', '/device_authorization', { ...tv, body });
  assert.equal(slow.status, 429);
  assert.equal(slow.json.error, 'slow_down');
  assert.ok(Number(slow.headers['retry-after']) > 0);
  assert.equal(slow.headers['cache-control'], 'no-store');
  const other = await request('POST', '/device_authorization', { localAddress: '127.0.0.2', xff: '192.0.2.11', body });
  assert.equal(other.status, 200, 'another source is not affected');
});
