// Issue 9 (tokens, registration, the WAF's OAuth logic): each test drives the real WAF and gateway;
// a fake S-CSCF (fake-scscf.mjs) shows exactly what reaches the IMS core.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startStack, token, SipWs, registerMsg, wafCli, sleep } from './harness.mjs';
import { signIn, post, basic, wicTokens } from './waf-helpers.mjs';
import { startFakeScscf } from './fake-scscf.mjs';

let stack, scscf;
before(async () => {
  scscf = await startFakeScscf();
  // Access tokens live 60 s and a registration needs 57: a held access token then needs a
  // refresh three seconds after it was issued, so the refresh paths run without long waits.
  stack = await startStack({
    gatewayArgs: ['--next-hop', `sip:127.0.0.1:${scscf.port};transport=tcp`, '--min-expires', '57',
      '--jwks-refetch-interval', '1'],
    wafArgs: ['--token-lifetime', '60'],
  });
});
after(async () => {
  const results = await stack.stop();
  await scscf.stop();
  assert.deepEqual(results['imsgw-gateway'], { code: 0, sig: null }, 'the gateway stops cleanly');
});

let seq = 0;
const callId = (what) => `auth-${what}-${process.pid}-${++seq}`;

/** registerMsg with a form body (a code for the WAF). */
function registerWithBody(opts, fields) {
  const body = new URLSearchParams(fields).toString();
  return registerMsg({ ...opts, extra: [...(opts.extra || []), 'Content-Type: application/x-www-form-urlencoded',
    `Content-Length: ${body.length}`] }) + body;
}

/** Flow 2: the user signs in for the gateway as client; returns the code for the REGISTER body. */
async function gatewayCode(user) {
  const q = new URLSearchParams({ response_type: 'code', client_id: 'gateway', scope: 'ims:register',
    redirect_uri: 'http://127.0.0.1:8080/cb', state: 's' });
  const login = await signIn(stack, `/authorize?${q}`, user, stack.passwords[user]);
  assert.equal(login.status, 303, login.text.slice(0, 300));
  return new URL(login.res.headers.get('location')).searchParams.get('code');
}

/** The upstream REGISTERs received since n. */
async function upstreamSince(n, want = 1) {
  for (let i = 0; i < 100 && scscf.registers().length < n + want; i++) await sleep(20);
  return scscf.registers().slice(n);
}

/** Waits (bounded) for a gateway log line: it can trail the response it describes. */
async function gatewayLogged(re) {
  for (let i = 0; i < 50 && !re.test(stack.gateway.log); i++) await sleep(20);
  assert.match(stack.gateway.log, re);
}

const wafMetric = async (name) => {
  const text = await (await fetch(`${stack.issuer}/metrics`)).text();
  return Number((new RegExp(`^${name} (\\d+)$`, 'm').exec(text) || [])[1]);
};

/** Flow 4: the confidential UA's opaque tokens for user. */
async function phoneTokens(user) {
  const q = new URLSearchParams({ response_type: 'code', client_id: 'phone', redirect_uri: 'https://phone.example/cb',
    scope: 'ims:register', state: 's' });
  const login = await signIn(stack, `/authorize?${q}`, user, stack.passwords[user]);
  const code = new URL(login.res.headers.get('location')).searchParams.get('code');
  const tok = await post(stack, '/token', { grant_type: 'authorization_code', code, redirect_uri: 'https://phone.example/cb' },
    { authorization: basic('phone', stack.uaSecret) });
  assert.equal(tok.status, 200, tok.text);
  return tok;
}

test('item 3: a refresh token is not an access token (introspection says token_type)', async () => {
  const tok = await phoneTokens('alice');
  const intro = await post(stack, '/introspect', { token: tok.json.refresh_token },
    { authorization: basic('phone', stack.uaSecret) });
  assert.equal(intro.json.token_type, 'refresh_token');
  const c = await SipWs.open(stack.wsUrl);
  const n = scscf.registers().length;
  for (const refresh of [tok.json.refresh_token, (await wicTokens(stack, 'alice')).json.refresh_token]) {
    const rsp = await c.request(registerMsg({ callId: callId('rt'), auth: `Bearer ${refresh}` }));
    assert.equal(rsp.status, 401, rsp.text);
    assert.match(rsp.headers['www-authenticate'][0], /error="invalid_token"/);
  }
  // the access token of the same grant still works
  const ok = await c.request(registerMsg({ callId: callId('at'), auth: `Bearer ${tok.json.access_token}` }));
  assert.equal(ok.status, 200, ok.text);
  assert.equal((await upstreamSince(n)).length, 1);
  await gatewayLogged(/not an access token/);
  c.close();
});

test('items 5 and 7: the core sees no body, no client Route and only the gateway\'s Path', async () => {
  const c = await SipWs.open(stack.wsUrl);
  const hostile = ['Route: <sip:evil.example;lr>', 'Path: <sip:evil-path.example;lr>'];
  const n = scscf.registers().length;
  const code = await gatewayCode('bob');
  const viaCode = await c.request(registerWithBody({ user: 'bob', callId: callId('code'), extra: hostile },
    { grant_type: 'authorization_code', code, redirect_uri: 'http://127.0.0.1:8080/cb' }));
  assert.equal(viaCode.status, 200, viaCode.text);
  // a Bearer REGISTER carrying a numeric-code body and the same hostile headers
  const other = await SipWs.open(stack.wsUrl);
  const body = 'grant_type=authorization_code&code=123456789';
  const viaBearer = await other.request(registerMsg({ callId: callId('bearer'), auth: `Bearer ${token(stack, 'alice')}`,
    extra: [...hostile, 'Content-Type: application/x-www-form-urlencoded', `Content-Length: ${body.length}`] }) + body);
  assert.equal(viaBearer.status, 200, viaBearer.text);
  const up = await upstreamSince(n, 2);
  assert.equal(up.length, 2);
  for (const m of up) {
    assert.equal(m.body, '', 'no body reaches the core');
    assert.equal(m.headers['content-type'], undefined);
    assert.deepEqual(m.headers['content-length'], ['0']);
    assert.equal(m.headers.route, undefined, 'no client Route');
    assert.equal(m.headers.path.length, 1, m.text);
    assert.match(m.headers.path[0], new RegExp(`@127\\.0\\.0\\.1:${stack.gwSipPort};`));
    assert.ok(!m.text.includes('evil'), m.text);
    assert.ok(!m.text.includes(code) && !m.text.includes('123456789'), 'no code upstream');
  }
  c.close();
  other.close();
});

test('item 10: an 8 KiB token → 400; Expires below min-expires → 423, logged; de-REGISTER with an expired token → 200', async () => {
  const c = await SipWs.open(stack.wsUrl);
  const huge = crypto.randomBytes(6200).toString('base64url'); // > 8192 characters
  assert.equal((await c.request(registerMsg({ callId: callId('huge'), auth: `Bearer ${huge}` }))).status, 400);
  const cid = callId('brief');
  const brief = await c.request(registerMsg({ callId: cid, expires: 5, auth: `Bearer ${token(stack, 'alice')}` }));
  assert.equal(brief.status, 423, brief.text);
  assert.deepEqual(brief.headers['min-expires'], ['57']);
  await gatewayLogged(/423, Expires 5 is below min-expires 57/);

  const reg = await c.request(registerMsg({ callId: cid, cseq: 2, auth: `Bearer ${token(stack, 'alice')}` }));
  assert.equal(reg.status, 200, reg.text);
  const now = Math.floor(Date.now() / 1000);
  const expired = token(stack, 'alice', ['--issued-at', String(now - 4000), '--lifetime', '600']);
  const n = scscf.registers().length;
  const dereg = await c.request(registerMsg({ callId: cid, cseq: 3, expires: 0, auth: `Bearer ${expired}` }));
  assert.equal(dereg.status, 200, dereg.text);
  const [up] = await upstreamSince(n);
  assert.deepEqual(up.headers.expires, ['0']);
  // elsewhere the expired token still counts for nothing
  const other = await SipWs.open(stack.wsUrl);
  const r401 = await other.request(registerMsg({ callId: callId('x'), expires: 0, auth: `Bearer ${expired}` }));
  assert.equal(r401.status, 401);
  other.close();
  c.close();
});

test('item 9: racing token-less re-REGISTERs share one refresh; a password change ends the held grant', async () => {
  const c = await SipWs.open(stack.wsUrl);
  const cid = callId('held');
  const code = await gatewayCode('bob');
  const first = await c.request(registerWithBody({ user: 'bob', callId: cid },
    { grant_type: 'authorization_code', code, redirect_uri: 'http://127.0.0.1:8080/cb' }));
  assert.equal(first.status, 200, first.text);
  const reuse = await wafMetric('imsgw_waf_refresh_reuse_total');
  await sleep(3200); // the held access token no longer covers min-expires: refresh needed
  c.send(registerMsg({ user: 'bob', callId: cid, cseq: 2 }));
  c.send(registerMsg({ user: 'bob', callId: cid, cseq: 3 }));
  const [a, b] = [await c.next(), await c.next()].map((t) => /^SIP\/2\.0 (\d+)/.exec(t)[1]);
  assert.deepEqual([a, b], ['200', '200']);
  assert.equal(await wafMetric('imsgw_waf_refresh_reuse_total'), reuse, 'no refresh token presented twice');
  await sleep(3200);
  const again = await c.request(registerMsg({ user: 'bob', callId: cid, cseq: 4 }));
  assert.equal(again.status, 200, 'the family is alive: another refresh works');

  // a new password revokes the family: the next refresh fails, the client must sign in again
  wafCli(stack, ['user', 'passwd', 'bob', '--password-stdin'], `${stack.passwords.bob}-new\n`);
  stack.passwords.bob += '-new';
  await sleep(3200);
  const n = scscf.registers().length;
  const refused = await c.request(registerMsg({ user: 'bob', callId: cid, cseq: 5 }));
  assert.equal(refused.status, 401, refused.text);
  assert.match(refused.headers['www-authenticate'][0], /error="invalid_token"/);
  const challenged = await c.request(registerMsg({ user: 'bob', callId: cid, cseq: 6 }));
  assert.equal(challenged.status, 401);
  assert.doesNotMatch(challenged.headers['www-authenticate'][0], /error=/, 'held tokens were dropped');
  assert.equal((await upstreamSince(n, 0)).length, 0);
  await gatewayLogged(/held refresh token was refused/);
  c.close();
});

test('item 6: 600 REGISTERs with random opaque tokens on one flow cannot starve the others', async () => {
  wafCli(stack, ['keys', 'rotate']);
  const flood = await SipWs.open(stack.wsUrl);
  const answers = [];
  flood.ws.on('message', (d) => answers.push(/^SIP\/2\.0 (\d+)/.exec(d.toString())?.[1]));
  for (let i = 0; i < 600; i++)
    flood.send(registerMsg({ callId: callId('flood'), auth: `Bearer ${crypto.randomBytes(24).toString('base64url')}` }));
  // meanwhile: a JWT from the rotated key (needs a JWKS refetch) and an opaque token (introspection)
  await sleep(2500); // the WAF serves a rotated key within 2 s
  const other = await SipWs.open(stack.wsUrl);
  const jwt = await other.request(registerMsg({ callId: callId('jwt'), auth: `Bearer ${token(stack, 'alice')}` }));
  assert.equal(jwt.status, 200, jwt.text);
  const opaque = (await phoneTokens('alice')).json.access_token;
  const viaOpaque = await other.request(registerMsg({ callId: callId('op'), auth: `Bearer ${opaque}` }));
  assert.equal(viaOpaque.status, 200, viaOpaque.text);
  for (let i = 0; i < 200 && answers.length < 600; i++) await sleep(25);
  assert.equal(answers.length, 600, 'every flooded REGISTER got an answer');
  const busy = answers.filter((s) => s === '503').length;
  assert.ok(busy >= 300, `the flow's quota answered 503: ${busy}`);
  assert.ok(answers.every((s) => s === '503' || s === '401'), answers.join(','));
  flood.close();
  other.close();
});

test('item 6: a token the WAF refused is remembered briefly, not introspected again', async () => {
  const metric = async () => Number(/^imsgw_introspection_total (\d+)$/m.exec(
    await (await fetch(`${stack.httpUrl}/metrics`)).text())[1]);
  const bad = crypto.randomBytes(24).toString('base64url');
  const c = await SipWs.open(stack.wsUrl);
  const before = await metric();
  for (let i = 0; i < 3; i++)
    assert.equal((await c.request(registerMsg({ callId: callId('neg'), auth: `Bearer ${bad}` }))).status, 401);
  assert.equal(await metric(), before + 1);
  c.close();
});

test('item 6: a 503 for a REGISTER over the quota carries Retry-After', async () => {
  const c = await SipWs.open(stack.wsUrl);
  stack.waf.proc.kill('SIGSTOP'); // the first four wait for the WAF (until the HTTP timeout)
  try {
    for (let i = 0; i < 5; i++)
      c.send(registerMsg({ callId: callId('q'), auth: `Bearer ${crypto.randomBytes(24).toString('base64url')}` }));
    const first = await c.next(2000);
    assert.match(first, /^SIP\/2\.0 503 /, first);
    assert.match(first, /\r\nRetry-After: 5\r\n/);
    for (let i = 0; i < 4; i++) assert.match(await c.next(6000), /^SIP\/2\.0 503 /);
  } finally {
    stack.waf.proc.kill('SIGCONT');
  }
  c.close();
});

test('fault: WAF down — cached keys keep JWTs working; introspection and codes get a prompt 503', async () => {
  const code = await gatewayCode('alice');
  const jwt = token(stack, 'alice');
  const opaque = crypto.randomBytes(24).toString('base64url');
  const c = await SipWs.open(stack.wsUrl);
  // stopped (not answering): the HTTP client gives up after its timeout
  stack.waf.proc.kill('SIGSTOP');
  let t0 = Date.now();
  const hung = await c.request(registerMsg({ callId: callId('stopped'), auth: `Bearer ${opaque}` }), 8000);
  assert.equal(hung.status, 503, hung.text);
  assert.ok(Date.now() - t0 < 6000, `answered after ${Date.now() - t0} ms`);
  stack.waf.proc.kill('SIGCONT');
  await stack.waf.stop();
  t0 = Date.now();
  const viaJwt = await c.request(registerMsg({ callId: callId('down-jwt'), auth: `Bearer ${jwt}` }));
  assert.equal(viaJwt.status, 200, viaJwt.text);
  const viaOpaque = await c.request(registerMsg({ callId: callId('down-op'), auth: `Bearer ${crypto.randomBytes(24).toString('base64url')}` }));
  assert.equal(viaOpaque.status, 503, viaOpaque.text);
  assert.ok(viaOpaque.headers['retry-after']);
  const viaCode = await c.request(registerWithBody({ callId: callId('down-code') },
    { grant_type: 'authorization_code', code, redirect_uri: 'http://127.0.0.1:8080/cb' }));
  assert.equal(viaCode.status, 503, viaCode.text);
  assert.ok(viaCode.headers['retry-after']);
  assert.ok(Date.now() - t0 < 3000, 'prompt answers with the WAF down');
  c.close();
});
