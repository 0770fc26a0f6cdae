// imsgw-waf as an OAuth 2.0 authorization server, driven over HTTP like a browser, the WIC, the
// gateway and a device would: every endpoint, every §5.2 error it returns, PKCE, code reuse (T23),
// refresh rotation with reuse detection, revocation, introspection, the device grant, numeric
// codes, CORS, throttling, hostile input, key rotation, and JWT interop with the npm jose package.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';
import { startStack, SipWs, registerMsg } from './harness.mjs';
import { startWaf, pkce, basic, post, openForm, signIn, authorizeUrl, wicTokens, WIC_REDIRECT } from './waf-helpers.mjs';

let waf;
before(async () => { waf = await startWaf(); });
after(async () => {
  const r = await waf.stop();
  assert.equal(r.code, 0, `the WAF must exit 0 on SIGTERM:\n${waf.log.slice(-2000)}`);
  assert.doesNotMatch(waf.log, /pw-(alice|bob|carol)-0123456789/, 'no password in the log');
  assert.doesNotMatch(waf.log, /eyJ[A-Za-z0-9_-]{10,}\.eyJ/, 'no token in the log');
});

const gw = () => ({ authorization: basic('gateway', waf.secret) });
const introspect = async (token) => (await post(waf, '/introspect', { token }, gw())).json;
const metrics = async () => (await fetch(`${waf.issuer}/metrics`)).text();

test('metadata (RFC 8414, T24) and JWKS', async () => {
  const m = await (await fetch(`${waf.issuer}/.well-known/oauth-authorization-server`)).json();
  assert.equal(m.issuer, waf.issuer);
  for (const [k, p] of [['authorization_endpoint', '/authorize'], ['token_endpoint', '/token'],
    ['jwks_uri', '/jwks.json'], ['introspection_endpoint', '/introspect'],
    ['revocation_endpoint', '/revoke'], ['device_authorization_endpoint', '/device_authorization']])
    assert.equal(m[k], waf.issuer + p);
  assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
  assert.deepEqual(m.response_types_supported, ['code']);
  assert.ok(m.grant_types_supported.includes('urn:ietf:params:oauth:grant-type:device_code'));
  const jwks = await (await fetch(`${waf.issuer}/jwks.json`)).json();
  assert.equal(jwks.keys.length, 1);
  const k = jwks.keys[0];
  assert.equal(k.kty, 'EC'); assert.equal(k.use, 'sig'); assert.equal(k.alg, 'ES256');
  assert.ok(k.kid); assert.equal(k.d, undefined);
});

test('code flow with PKCE S256; the access token verifies with jose against the served JWKS', async () => {
  const t = await wicTokens(waf);
  assert.equal(t.status, 200, t.text);
  assert.equal(t.res.headers.get('cache-control'), 'no-store');
  assert.equal(t.location.searchParams.get('state'), 's1');
  assert.equal(t.location.searchParams.get('iss'), waf.issuer);
  assert.equal(t.json.token_type, 'Bearer');
  assert.equal(t.json.expires_in, 900);
  assert.ok(t.json.refresh_token.length >= 43);
  const jwks = createRemoteJWKSet(new URL(`${waf.issuer}/jwks.json`));
  const { payload, protectedHeader } = await jwtVerify(t.json.access_token, jwks, {
    issuer: waf.issuer, audience: 'sip:ims.test', typ: 'at+jwt', algorithms: ['ES256'] });
  assert.ok(protectedHeader.kid);
  assert.equal(payload.client_id, 'wic');
  assert.equal(payload.impi, 'alice@ims.test');
  assert.deepEqual(payload.impu, ['sip:alice@ims.test']);
  assert.equal(payload.scope, 'ims:register ims:call ims:message');
  for (const c of ['sub', 'iat', 'exp', 'jti']) assert.ok(payload[c], c);
  const i = await introspect(t.json.access_token);
  assert.equal(i.active, true);
  assert.equal(i.username, 'alice');
  assert.equal(i.client_id, 'wic');
});

test('a reused authorization code is refused and its tokens are revoked (T23)', async () => {
  const t = await wicTokens(waf);
  assert.equal(t.status, 200);
  const again = await post(waf, '/token', { grant_type: 'authorization_code', code: t.code,
    client_id: 'wic', redirect_uri: WIC_REDIRECT, code_verifier: t.verifier });
  assert.equal(again.status, 400);
  assert.equal(again.json.error, 'invalid_grant');
  assert.equal(again.res.headers.get('cache-control'), 'no-store');
  assert.deepEqual(await introspect(t.json.access_token), { active: false });
  assert.deepEqual(await introspect(t.json.refresh_token), { active: false });
});

test('token endpoint: wrong verifier, wrong redirect URI, other client → invalid_grant (T20)', async () => {
  const { verifier, challenge } = pkce();
  const r = await signIn(waf, authorizeUrl({ code_challenge: challenge, code_challenge_method: 'S256' }),
    'bob', waf.passwords.bob);
  const code = new URL(r.res.headers.get('location')).searchParams.get('code');
  const base = { grant_type: 'authorization_code', code, client_id: 'wic', redirect_uri: WIC_REDIRECT };
  for (const bad of [{ code_verifier: pkce().verifier }, { code_verifier: 'short' }, {},
    { code_verifier: verifier, redirect_uri: 'http://localhost:8080/' }]) {
    const x = await post(waf, '/token', { ...base, ...bad });
    assert.equal(x.status, 400);
    assert.equal(x.json.error, 'invalid_grant', JSON.stringify(bad));
  }
  const other = await post(waf, '/token', { ...base, code_verifier: verifier, client_id: 'gateway',
    client_secret: waf.secret });
  assert.equal(other.json.error, 'invalid_grant');
  const ok = await post(waf, '/token', { ...base, code_verifier: verifier });
  assert.equal(ok.status, 200, ok.text);
});

test('/authorize refuses missing or plain PKCE, bad response_type and scope, unknown redirect URIs', async () => {
  const redirectErr = async (params) => {
    const res = await fetch(`${waf.issuer}${authorizeUrl({ state: 'st', ...params })}`, { redirect: 'manual' });
    assert.equal(res.status, 303);
    const loc = new URL(res.headers.get('location'));
    assert.equal(loc.origin + loc.pathname, WIC_REDIRECT);
    assert.equal(loc.searchParams.get('state'), 'st');
    assert.equal(loc.searchParams.get('iss'), waf.issuer);
    return loc.searchParams.get('error');
  };
  const { challenge } = pkce();
  assert.equal(await redirectErr({}), 'invalid_request'); // public client without PKCE
  assert.equal(await redirectErr({ code_challenge: challenge, code_challenge_method: 'plain' }), 'invalid_request');
  assert.equal(await redirectErr({ code_challenge: challenge }), 'invalid_request'); // plain by default
  assert.equal(await redirectErr({ code_challenge: challenge, code_challenge_method: 'S256',
    response_type: 'token' }), 'unsupported_response_type');
  assert.equal(await redirectErr({ code_challenge: challenge, code_challenge_method: 'S256',
    scope: 'admin' }), 'invalid_scope');
  for (const params of [{ redirect_uri: 'http://127.0.0.1:8080/evil' }, { redirect_uri: 'http://127.0.0.1:8080' },
    { client_id: 'nobody' }, { client_id: "x' OR 1=1--" }]) {
    const res = await fetch(`${waf.issuer}${authorizeUrl({ code_challenge: challenge, code_challenge_method: 'S256', ...params })}`,
      { redirect: 'manual' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null, 'never redirect to an unregistered URI');
    assert.match(res.headers.get('content-type'), /^text\/html/);
  }
});

test('the sign-in page: headers, CSRF protection, wrong password, throttling with a clear page', async () => {
  const { challenge } = pkce();
  const url = authorizeUrl({ code_challenge: challenge, code_challenge_method: 'S256' });
  const f = await openForm(waf, url);
  assert.equal(f.res.status, 200);
  assert.match(f.html, /name="username"/);
  assert.match(f.html, /name="password"/);
  assert.equal(f.res.headers.get('x-frame-options'), 'DENY');
  assert.match(f.res.headers.get('content-security-policy'), /frame-ancestors 'none'/);
  assert.equal(f.res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(f.res.headers.get('cache-control'), 'no-store');
  assert.match(f.cookie, /^waf_csrf=/);
  assert.match(f.res.headers.get('set-cookie'), /HttpOnly; SameSite=Strict/);
  // no cookie, or a forged field: refused, no redirect
  const noCookie = await post(waf, '/authorize', { ...f.hidden, username: 'alice', password: waf.passwords.alice });
  assert.equal(noCookie.status, 403);
  const forged = await post(waf, '/authorize', { ...f.hidden, csrf: 'A'.repeat(43), username: 'alice',
    password: waf.passwords.alice }, { cookie: f.cookie });
  assert.equal(forged.status, 403);
  // wrong passwords for carol: 401 each, then the account is paused (limit 3 in this suite)
  for (let i = 0; i < 3; i++) {
    const r = await signIn(waf, url, 'carol', 'wrong-password');
    assert.equal(r.status, 401);
    assert.match(r.text, /Wrong user name or password/);
  }
  const paused = await signIn(waf, url, 'carol', waf.passwords.carol);
  assert.equal(paused.status, 429);
  assert.match(paused.text, /Too many failed sign-ins/);
  assert.ok(Number(paused.res.headers.get('retry-after')) > 0);
  const unknown = await signIn(waf, url, 'nobody', 'whatever-password');
  assert.equal(unknown.status, 401);
  const m = await metrics();
  assert.match(m, /imsgw_waf_logins_total\{result="failed"\} [4-9]/);
  assert.match(m, /imsgw_waf_throttled_total [1-9]/);
  assert.match(m, /imsgw_waf_tokens_issued_total\{grant="authorization_code"\} [1-9]/);
});

test('refresh rotation; reuse of an old refresh token revokes the whole family', async () => {
  const t = await wicTokens(waf);
  const r1 = await post(waf, '/token', { grant_type: 'refresh_token', refresh_token: t.json.refresh_token, client_id: 'wic' });
  assert.equal(r1.status, 200, r1.text);
  assert.notEqual(r1.json.refresh_token, t.json.refresh_token);
  const narrowed = await post(waf, '/token', { grant_type: 'refresh_token', refresh_token: r1.json.refresh_token,
    client_id: 'wic', scope: 'ims:register' });
  assert.equal(narrowed.json.scope, 'ims:register');
  const wider = await post(waf, '/token', { grant_type: 'refresh_token', refresh_token: narrowed.json.refresh_token,
    client_id: 'wic', scope: 'ims:register admin' });
  assert.equal(wider.json.error, 'invalid_scope');
  assert.equal((await introspect(narrowed.json.access_token)).active, true);
  const reuse = await post(waf, '/token', { grant_type: 'refresh_token', refresh_token: t.json.refresh_token, client_id: 'wic' });
  assert.equal(reuse.status, 400);
  assert.equal(reuse.json.error, 'invalid_grant');
  assert.deepEqual(await introspect(narrowed.json.access_token), { active: false });
  assert.deepEqual(await introspect(r1.json.access_token), { active: false });
  const after = await post(waf, '/token', { grant_type: 'refresh_token', refresh_token: narrowed.json.refresh_token, client_id: 'wic' });
  assert.equal(after.json.error, 'invalid_grant');
});

test('revocation (RFC 7009) and introspection (RFC 7662) need the right clients', async () => {
  const t = await wicTokens(waf);
  const unknown = await post(waf, '/revoke', { token: 'not-a-token', client_id: 'wic' });
  assert.equal(unknown.status, 200);
  const badHint = await post(waf, '/revoke', { token: 'x', token_type_hint: 'id_token', client_id: 'wic' });
  assert.equal(badHint.json.error, 'unsupported_token_type');
  assert.equal((await post(waf, '/revoke', { client_id: 'wic' })).json.error, 'invalid_request');
  const rv = await post(waf, '/revoke', { token: t.json.refresh_token, token_type_hint: 'refresh_token', client_id: 'wic' });
  assert.equal(rv.status, 200);
  assert.deepEqual(await introspect(t.json.access_token), { active: false });
  const t2 = await wicTokens(waf);
  await post(waf, '/revoke', { token: t2.json.access_token, client_id: 'wic' });
  assert.deepEqual(await introspect(t2.json.access_token), { active: false });
  // introspection: no auth, a public client, a wrong secret → invalid_client (401)
  for (const [form, headers] of [[{ token: 'x' }, {}], [{ token: 'x', client_id: 'wic' }, {}],
    [{ token: 'x' }, { authorization: basic('gateway', 'wrong') }], [{ token: 'x' }, { authorization: 'Basic !!!' }]]) {
    const r = await post(waf, '/introspect', form, headers);
    assert.equal(r.status, 401);
    assert.equal(r.json.error, 'invalid_client');
  }
  const basicResp = await post(waf, '/introspect', { token: 'x' }, { authorization: basic('gateway', 'wrong') });
  assert.match(basicResp.res.headers.get('www-authenticate'), /^Basic/);
  assert.equal((await post(waf, '/introspect', {}, gw())).json.error, 'invalid_request');
  assert.deepEqual(await introspect('garbage'), { active: false });
  assert.deepEqual(await introspect('a.b.c'), { active: false });
});

test('client_credentials; an opaque-token client is introspected', async () => {
  const cc = await post(waf, '/token', { grant_type: 'client_credentials', scope: 'ims:register' }, gw());
  assert.equal(cc.status, 200, cc.text);
  assert.equal(cc.json.refresh_token, undefined);
  const i = await introspect(cc.json.access_token);
  assert.equal(i.active, true);
  assert.equal(i.sub, 'gateway');
  const op = await post(waf, '/token', { grant_type: 'client_credentials' }, { authorization: basic('portal', waf.opaqueSecret) });
  assert.equal(op.status, 200, op.text);
  assert.doesNotMatch(op.json.access_token, /\./);
  assert.ok(op.json.access_token.length >= 43);
  assert.equal((await introspect(op.json.access_token)).client_id, 'portal');
  await post(waf, '/revoke', { token: op.json.access_token }, { authorization: basic('portal', waf.opaqueSecret) });
  assert.deepEqual(await introspect(op.json.access_token), { active: false });
});

test('device grant (RFC 8628, T22): pending, slow_down, approval at /device, denial', async () => {
  const da = await post(waf, '/device_authorization', { client_id: 'wic', scope: 'ims:register' });
  assert.equal(da.status, 200, da.text);
  assert.match(da.json.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
  assert.equal(da.json.verification_uri, `${waf.issuer}/device`);
  assert.equal(da.json.interval, 5);
  assert.ok(da.json.expires_in <= 600);
  assert.ok(da.json.device_code.length >= 43);
  const poll = (code, client = 'wic') => post(waf, '/token', {
    grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: code, client_id: client });
  assert.equal((await poll(da.json.device_code)).json.error, 'authorization_pending');
  assert.equal((await poll(da.json.device_code)).json.error, 'slow_down');
  assert.equal((await poll('unknown')).json.error, 'invalid_grant');
  // a second device: the user approves (code typed in lower case, without the dash)
  const d2 = await post(waf, '/device_authorization', { client_id: 'wic' });
  const typed = d2.json.user_code.replace('-', '').toLowerCase();
  const page = await signIn(waf, `/device?user_code=${encodeURIComponent(d2.json.user_code)}`, 'alice',
    waf.passwords.alice, { user_code: typed });
  assert.equal(page.status, 200, page.text);
  assert.match(page.text, /Device connected/);
  const tok = await poll(d2.json.device_code);
  assert.equal(tok.status, 200, tok.text);
  assert.equal((await introspect(tok.json.access_token)).username, 'alice');
  // wrong code on the page; denial
  const wrong = await signIn(waf, '/device', 'alice', waf.passwords.alice, { user_code: 'BBBB-BBBB' });
  assert.equal(wrong.status, 400);
  const d3 = await post(waf, '/device_authorization', { client_id: 'wic' });
  await signIn(waf, '/device', 'alice', waf.passwords.alice, { user_code: d3.json.user_code, action: 'deny' });
  assert.equal((await poll(d3.json.device_code)).json.error, 'access_denied');
  assert.equal((await post(waf, '/device_authorization', { client_id: 'wic', scope: 'x' })).json.error, 'invalid_scope');
});

test('numeric code (flow 3): /code page, redeemed once by the gateway for its IMPU, locked after failures', async () => {
  const page = await signIn(waf, '/code', 'bob', waf.passwords.bob);
  assert.equal(page.status, 200, page.text);
  const digits = /data-testid="code">(\d+)</.exec(page.text)[1];
  assert.match(digits, /^\d{9}$/);
  const redeem = (code, impu = 'sip:bob@ims.test', auth = gw()) =>
    post(waf, '/token', { grant_type: 'authorization_code', code, impu }, auth);
  assert.equal((await redeem(digits, 'sip:alice@ims.test')).json.error, 'invalid_grant'); // other IMPU
  const ok = await redeem(digits);
  assert.equal(ok.status, 200, ok.text);
  const jwks = createRemoteJWKSet(new URL(`${waf.issuer}/jwks.json`));
  const { payload } = await jwtVerify(ok.json.access_token, jwks, { issuer: waf.issuer, audience: 'sip:ims.test' });
  assert.deepEqual(payload.impu, ['sip:bob@ims.test']);
  assert.equal(payload.client_id, 'gateway');
  assert.equal((await redeem(digits)).json.error, 'invalid_grant'); // single use
  assert.equal((await post(waf, '/token', { grant_type: 'authorization_code', code: digits, client_id: 'wic', impu: 'sip:bob@ims.test' })).json.error,
    'unauthorized_client');
  assert.equal((await post(waf, '/token', { grant_type: 'authorization_code', code: digits }, gw())).json.error, 'invalid_request');
  // attempt limit: 3 wrong guesses lock the live code
  const p2 = await signIn(waf, '/code', 'bob', waf.passwords.bob);
  const d2 = /data-testid="code">(\d+)</.exec(p2.text)[1];
  const wrong = String((Number(d2) + 1) % 1e9).padStart(9, '0');
  for (let i = 0; i < 3; i++) assert.equal((await redeem(wrong)).json.error, 'invalid_grant');
  assert.equal((await redeem(d2)).json.error, 'invalid_grant');
  assert.match(await metrics(), /imsgw_waf_numeric_code_failures_total [5-9]/);
});

test('CORS only for the web client origins, on /token and /revoke', async () => {
  const pre = (origin, p = '/token') => fetch(`${waf.issuer}${p}`, { method: 'OPTIONS', headers: {
    origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
  const ok = await pre('http://127.0.0.1:8080');
  assert.equal(ok.status, 204);
  assert.equal(ok.headers.get('access-control-allow-origin'), 'http://127.0.0.1:8080');
  assert.match(ok.headers.get('access-control-allow-methods'), /POST/);
  assert.equal((await pre('http://localhost:8080', '/revoke')).status, 204);
  const evil = await pre('http://evil.example');
  assert.equal(evil.status, 403);
  assert.equal(evil.headers.get('access-control-allow-origin'), null);
  const r = await post(waf, '/token', { grant_type: 'x' }, { origin: 'http://evil.example' });
  assert.equal(r.res.headers.get('access-control-allow-origin'), null);
  const i = await post(waf, '/introspect', { token: 'x' }, { ...gw(), origin: 'http://127.0.0.1:8080' });
  assert.equal(i.res.headers.get('access-control-allow-origin'), null);
});

test('hostile input: malformed, oversized, JSON, unknown grants, SQL-looking values → OAuth errors, nothing stored', async () => {
  const usersBefore = waf.cli(['user', 'list']);
  const clientsBefore = waf.cli(['client', 'list']);
  const cases = [
    ['grant_type=authorization_code&code=%ZZ&client_id=wic', 400, 'invalid_request'],
    ['grant_type=a&grant_type=b&client_id=wic', 400, 'invalid_request'],
    ['grant_type=password&username=alice&password=x&client_id=wic', 400, 'unsupported_grant_type'],
    ['grant_type=implicit&client_id=wic', 400, 'unsupported_grant_type'],
    ['client_id=wic', 400, 'invalid_request'],
    ['grant_type=client_credentials&client_id=gateway&client_secret=wrong', 401, 'invalid_client'],
  ];
  for (const [body, status, error] of cases) {
    const r = await post(waf, '/token', body);
    assert.equal(r.status, status, body);
    assert.equal(r.json.error, error, body);
  }
  const json = await post(waf, '/token', '{"grant_type":"client_credentials"}', { 'content-type': 'application/json' });
  assert.equal(json.json.error, 'invalid_request');
  const big = await post(waf, '/token', `grant_type=x&pad=${'a'.repeat(9000)}`);
  assert.equal(big.status, 413);
  assert.equal(big.json.error, 'invalid_request');
  const sql = "x' OR '1'='1'; DROP TABLE users;--";
  for (const field of ['grant_type', 'code', 'client_id', 'client_secret', 'redirect_uri', 'code_verifier',
    'refresh_token', 'scope', 'device_code', 'impu']) {
    const form = { grant_type: 'authorization_code', code: 'c', client_id: 'wic', redirect_uri: WIC_REDIRECT, [field]: sql };
    const r = await post(waf, '/token', form);
    assert.ok([400, 401].includes(r.status), `${field}: ${r.status}`);
    assert.ok(r.json.error, field);
  }
  for (const p of ['/introspect', '/revoke', '/device_authorization'])
    for (const field of ['token', 'client_id', 'client_secret', 'scope', 'token_type_hint']) {
      const r = await post(waf, p, { token: 't', client_id: 'gateway', client_secret: waf.secret, [field]: sql });
      assert.ok([200, 400, 401].includes(r.status), `${p} ${field}`);
      if (r.status === 200 && p === '/introspect') assert.deepEqual(r.json, { active: false });
    }
  const login = await signIn(waf, authorizeUrl({ code_challenge: pkce().challenge, code_challenge_method: 'S256',
    state: sql }), sql, sql);
  assert.equal(login.status, 401);
  const st = await fetch(`${waf.issuer}/authorize?client_id=${encodeURIComponent(sql)}&redirect_uri=x`);
  assert.equal(st.status, 400);
  // a broken %-escape in the URL is refused by libwebsockets' own URI parser (403) before routing
  assert.ok([400, 403].includes((await fetch(`${waf.issuer}/authorize?a=%ZZ`)).status));
  assert.equal((await fetch(`${waf.issuer}/nope`)).status, 404);
  assert.equal((await fetch(`${waf.issuer}/token`)).status, 405);
  assert.equal(waf.cli(['user', 'list']), usersBefore);
  assert.equal(waf.cli(['client', 'list']), clientsBefore);
  assert.equal((await fetch(`${waf.issuer}/healthz`)).status, 200);
});

test('CLI: user passwd, client del, keys rotate (old key stays in the JWKS), RS256', async () => {
  waf.cli(['user', 'passwd', 'bob', '--password-stdin'], 'new-password-for-bob\n');
  waf.passwords.bob = 'new-password-for-bob';
  const before = await wicTokens(waf, 'bob');
  assert.equal(before.status, 200);
  const oldKid = decodeProtectedHeader(before.json.access_token).kid;
  const out = waf.cli(['keys', 'rotate', '--alg', 'RS256']);
  const newKid = /^kid (\S+)/.exec(out)[1];
  assert.notEqual(newKid, oldKid);
  await new Promise((r) => setTimeout(r, 2200)); // the daemon looks at the key table every 2 s
  const jwks = await (await fetch(`${waf.issuer}/jwks.json`)).json();
  assert.deepEqual(jwks.keys.map((k) => k.kid).sort(), [oldKid, newKid].sort());
  const rsa = jwks.keys.find((k) => k.kid === newKid);
  assert.equal(rsa.kty, 'RSA'); assert.equal(rsa.alg, 'RS256');
  const after = await wicTokens(waf, 'bob');
  assert.equal(decodeProtectedHeader(after.json.access_token).alg, 'RS256');
  const set = createRemoteJWKSet(new URL(`${waf.issuer}/jwks.json`));
  for (const t of [before.json.access_token, after.json.access_token])
    await jwtVerify(t, set, { issuer: waf.issuer, audience: 'sip:ims.test', typ: 'at+jwt' });
  assert.equal((await introspect(after.json.access_token)).active, true);
  waf.cli(['keys', 'rotate']); // back to ES256 for the gateway interop test below
  waf.cli(['client', 'del', 'portal']);
  assert.doesNotMatch(waf.cli(['client', 'list']), /portal/);
});

test('the gateway accepts a WAF access token from the code flow', async () => {
  const stack = await startStack();
  try {
    // startStack provisions the wic client as make run does
    const w = { issuer: stack.issuer, passwords: stack.passwords };
    const t = await wicTokens(w);
    assert.equal(t.status, 200, t.text);
    const c = await SipWs.open(stack.wsUrl);
    const r = await c.request(registerMsg({ user: 'alice', auth: `Bearer ${t.json.access_token}` }));
    assert.equal(r.status, 200, r.text);
    c.close();
  } finally {
    const results = await stack.stop();
    for (const [name, r] of Object.entries(results)) assert.equal(r.code, 0, name);
  }
});
