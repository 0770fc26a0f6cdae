// Issue 4: the four flows of PRODUCT.md, each registered end to end through WAF, gateway and
// stub. The gateway runs with challenge "redirect" (the seed's 302 variant).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, SipWs, registerMsg, stubRegisterCount, stubRegisterCountSettled, stubRegistersReach, token, wafCli, sleep } from './harness.mjs';
import { signIn, pkce, post, basic } from './waf-helpers.mjs';

let stack;
before(async () => { stack = await startStack({ gatewayArgs: ['--challenge', 'redirect', '--jwks-refetch-interval', '1'] }); });
after(async () => {
  const results = await stack.stop();
  for (const [name, r] of Object.entries(results)) assert.deepEqual(r, { code: 0, sig: null }, name);
});

/** registerMsg with a form body (Content-Length is optional over WebSocket; we send it). */
function registerWithBody(opts, fields) {
  const body = new URLSearchParams(fields).toString();
  const msg = registerMsg({ ...opts, extra: ['Content-Type: application/x-www-form-urlencoded', `Content-Length: ${body.length}`] });
  return msg + body;
}

test('flow 1 — WIC as public client: code + PKCE at the WAF, then REGISTER with Bearer', async () => {
  const { verifier, challenge } = pkce();
  const q = new URLSearchParams({ response_type: 'code', client_id: 'wic', redirect_uri: 'http://127.0.0.1:8080/',
    scope: 'ims:register ims:call ims:message', state: 'st1', code_challenge: challenge, code_challenge_method: 'S256' });
  const login = await signIn(stack, `/authorize?${q}`, 'alice', stack.passwords.alice);
  assert.equal(login.status, 303, login.text.slice(0, 300));
  const code = new URL(login.res.headers.get('location')).searchParams.get('code');
  const tok = await post(stack, '/token', { grant_type: 'authorization_code', code, client_id: 'wic',
    redirect_uri: 'http://127.0.0.1:8080/', code_verifier: verifier });
  assert.equal(tok.status, 200, tok.text);
  const c = await SipWs.open(stack.wsUrl);
  const rsp = await c.request(registerMsg({ callId: 'flow1', auth: `Bearer ${tok.json.access_token}` }));
  assert.equal(rsp.status, 200, rsp.text);
  c.close();
});

test('flow 2 — rich UI: 302 to the WAF, code in the REGISTER body, the gateway redeems and keeps the tokens', async () => {
  const c = await SipWs.open(stack.wsUrl);
  const r302 = await c.request(registerMsg({ user: 'bob', callId: 'flow2', cseq: 1 }));
  assert.equal(r302.status, 302);
  const contact = /<([^>]+)>/.exec(r302.headers.contact[0])[1];
  assert.ok(contact.startsWith(`${stack.issuer}/authorize?`), contact);
  const url = new URL(contact);
  assert.equal(url.searchParams.get('client_id'), 'gateway');
  assert.equal(url.searchParams.get('scope'), 'ims:register');
  // The UA shows the WAF page to the user and catches the redirect with the code.
  const login = await signIn(stack, `${url.pathname}${url.search}&redirect_uri=${encodeURIComponent('http://127.0.0.1:8080/cb')}&state=s2`,
    'bob', stack.passwords.bob);
  assert.equal(login.status, 303, login.text.slice(0, 300));
  const code = new URL(login.res.headers.get('location')).searchParams.get('code');
  const before = await stubRegisterCountSettled(stack); // earlier lines may trail their 200
  const rsp = await c.request(registerWithBody({ user: 'bob', callId: 'flow2', cseq: 2 },
    { grant_type: 'authorization_code', code, redirect_uri: 'http://127.0.0.1:8080/cb' }));
  assert.equal(rsp.status, 200, rsp.text);
  assert.equal(await stubRegistersReach(stack, before + 1), before + 1);
  // re-REGISTER without credentials: the gateway uses the tokens it holds for this flow
  const again = await c.request(registerMsg({ user: 'bob', callId: 'flow2', cseq: 3 }));
  assert.equal(again.status, 200, again.text);
  // the same code again (on a new flow) is refused: codes are single-use
  const other = await SipWs.open(stack.wsUrl);
  const reuse = await other.request(registerWithBody({ user: 'bob', callId: 'flow2b', cseq: 1 },
    { grant_type: 'authorization_code', code, redirect_uri: 'http://127.0.0.1:8080/cb' }));
  assert.equal(reuse.status, 403);
  other.close();
  c.close();
  assert.ok(!stack.gateway.log.includes(code), 'the code is not logged');
});

test('flow 3 — limited UI: numeric code from /code in the REGISTER body', async () => {
  const page = await signIn(stack, '/code', 'alice', stack.passwords.alice);
  assert.equal(page.status, 200, page.text.slice(0, 300));
  const digits = /data-testid="code">(\d+)</.exec(page.text)[1];
  const c = await SipWs.open(stack.wsUrl);
  const wrong = String((Number(digits) + 1) % 1e9).padStart(9, '0');
  const bad = await c.request(registerWithBody({ callId: 'flow3', cseq: 1 }, { grant_type: 'authorization_code', code: wrong }));
  assert.equal(bad.status, 403);
  const rsp = await c.request(registerWithBody({ callId: 'flow3', cseq: 2 }, { grant_type: 'authorization_code', code: digits }));
  assert.equal(rsp.status, 200, rsp.text);
  const metrics = await (await fetch(`${stack.issuer}/metrics`)).text();
  assert.match(metrics, /imsgw_waf_numeric_code_failures_total [1-9]/);
  c.close();
});

test('flow 4 — confidential UA with an opaque token: introspection by the gateway', async () => {
  const q = new URLSearchParams({ response_type: 'code', client_id: 'phone', redirect_uri: 'https://phone.example/cb',
    scope: 'ims:register', state: 's4' });
  const login = await signIn(stack, `/authorize?${q}`, 'alice', stack.passwords.alice);
  assert.equal(login.status, 303, login.text.slice(0, 300));
  const code = new URL(login.res.headers.get('location')).searchParams.get('code');
  const tok = await post(stack, '/token', { grant_type: 'authorization_code', code, redirect_uri: 'https://phone.example/cb' },
    { authorization: basic('phone', stack.uaSecret) });
  assert.equal(tok.status, 200, tok.text);
  assert.ok(!tok.json.access_token.startsWith('eyJ'), 'an opaque token');
  const c = await SipWs.open(stack.wsUrl);
  const rsp = await c.request(registerMsg({ callId: 'flow4', auth: `Bearer access_token="${tok.json.access_token}"` }));
  assert.equal(rsp.status, 200, rsp.text);
  const metrics = await (await fetch(`${stack.httpUrl}/metrics`)).text();
  assert.match(metrics, /imsgw_introspection_total [1-9]/);
  // revoked at the WAF: after the introspection cache TTL it would fail; a fresh token that is
  // revoked before first use fails at once
  await post(stack, '/revoke', { token: tok.json.refresh_token, token_type_hint: 'refresh_token' },
    { authorization: basic('phone', stack.uaSecret) });
  const bogus = await c.request(registerMsg({ callId: 'flow4', cseq: 2, auth: 'Bearer notAValidOpaqueToken123' }));
  assert.equal(bogus.status, 401);
  assert.match(bogus.headers['www-authenticate'][0], /invalid_token/);
  c.close();
});

test('after the WAF rotates to an RS256 key the gateway fetches it and accepts its tokens', async () => {
  wafCli(stack, ['keys', 'rotate', '--alg', 'RS256']);
  await sleep(2500); // the WAF picks up a rotation within 2 s
  const tok = token(stack, 'alice');
  assert.equal(JSON.parse(Buffer.from(tok.split('.')[0], 'base64url')).alg, 'RS256');
  const c = await SipWs.open(stack.wsUrl);
  const rsp = await c.request(registerMsg({ callId: 'rs256', auth: `Bearer ${tok}` }));
  assert.equal(rsp.status, 200, rsp.text);
  // an RS256 token whose signature is altered is still refused
  const bad = tok.slice(0, -4) + (tok.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  const r401 = await c.request(registerMsg({ callId: 'rs256', cseq: 2, auth: `Bearer ${bad}` }));
  assert.equal(r401.status, 401);
  c.close();
});
