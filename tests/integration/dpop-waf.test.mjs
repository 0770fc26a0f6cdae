// Issue 14: DPoP at the WAF's /token (RFC 9449 §5, §8): a nonce first, then tokens bound to the
// proof's key (cnf.jkt, token_type DPoP); a public client's refresh token only works with a proof
// by the same key; replayed or misdirected proofs are refused; bearer clients are unchanged.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { startWaf, pkce, basic, post, signIn, authorizeUrl, WIC_REDIRECT } from './waf-helpers.mjs';
import { dpopKey, proof } from './dpop.mjs';

let waf;
before(async () => { waf = await startWaf(); });
after(async () => {
  const r = await waf.stop();
  assert.equal(r.code, 0, `the WAF must exit 0 on SIGTERM:\n${waf.log.slice(-2000)}`);
});

const htu = () => `${waf.issuer}/token`;

async function code(user = 'alice') {
  const { verifier, challenge } = pkce();
  const r = await signIn(waf, authorizeUrl({ code_challenge: challenge, code_challenge_method: 'S256', state: 's' }),
    user, waf.passwords[user]);
  assert.equal(r.status, 303);
  return { code: new URL(r.res.headers.get('location')).searchParams.get('code'), verifier };
}

/** POST /token with a proof by key; fetches the nonce first like a client would (§8). */
async function tokenWith(key, form, over = {}) {
  let r = await post(waf, '/token', form, { dpop: proof(key, { htm: 'POST', htu: htu(), ...over }) });
  if (r.json?.error === 'use_dpop_nonce') {
    r = await post(waf, '/token', form,
      { dpop: proof(key, { htm: 'POST', htu: htu(), nonce: r.res.headers.get('dpop-nonce'), ...over }) });
  }
  return r;
}

test('metadata lists the DPoP algorithms', async () => {
  const m = await (await fetch(`${waf.issuer}/.well-known/oauth-authorization-server`)).json();
  assert.deepEqual(m.dpop_signing_alg_values_supported, ['ES256', 'RS256']);
});

test('code grant with DPoP: nonce demanded, then a DPoP-bound access token and refresh token', async () => {
  const key = dpopKey();
  const c = await code();
  const form = { grant_type: 'authorization_code', code: c.code, client_id: 'wic', redirect_uri: WIC_REDIRECT, code_verifier: c.verifier };
  const first = await post(waf, '/token', form, { dpop: proof(key, { htm: 'POST', htu: htu() }) });
  assert.equal(first.status, 400);
  assert.equal(first.json.error, 'use_dpop_nonce');
  const nonce = first.res.headers.get('dpop-nonce');
  assert.ok(nonce);
  const t = await post(waf, '/token', form, { dpop: proof(key, { htm: 'POST', htu: htu(), nonce }) });
  assert.equal(t.status, 200, t.text);
  assert.equal(t.json.token_type, 'DPoP');
  assert.ok(t.res.headers.get('dpop-nonce'), 'the next nonce comes with the tokens');
  assert.equal(decodeJwt(t.json.access_token).cnf.jkt, key.jkt);
  const i = (await post(waf, '/introspect', { token: t.json.access_token }, { authorization: basic('gateway', waf.secret) })).json;
  assert.equal(i.active, true);
  assert.equal(i.token_type, 'DPoP');
  assert.equal(i.cnf.jkt, key.jkt);

  // the refresh token is bound: without a proof, or with another key's, it is refused
  const rf = { grant_type: 'refresh_token', refresh_token: t.json.refresh_token, client_id: 'wic' };
  let r = await post(waf, '/token', rf);
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'invalid_dpop_proof');
  r = await tokenWith(dpopKey(), rf);
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'invalid_dpop_proof');
  assert.match(r.json.error_description, /bound to another DPoP key/);
  // with the key it rotates as usual, still bound
  r = await tokenWith(key, rf);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.token_type, 'DPoP');
  assert.equal(decodeJwt(r.json.access_token).cnf.jkt, key.jkt);
});

test('bad proofs at /token: replayed jti, wrong htu or htm, stale iat, private key, two headers', async () => {
  const key = dpopKey();
  const n = (await post(waf, '/token', { grant_type: 'client_credentials' },
    { dpop: proof(key, { htm: 'POST', htu: htu() }), authorization: basic('gateway', waf.secret) })).res.headers.get('dpop-nonce');
  const auth = { authorization: basic('gateway', waf.secret) };
  const form = { grant_type: 'client_credentials', scope: 'ims:register' };
  const once = proof(key, { htm: 'POST', htu: htu(), nonce: n });
  let r = await post(waf, '/token', form, { ...auth, dpop: once });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.token_type, 'DPoP');
  const cases = [
    ['replayed', once, /already used/],
    ['wrong htu', proof(key, { htm: 'POST', htu: `${waf.issuer}/revoke`, nonce: n }), /htu/],
    ['wrong htm', proof(key, { htm: 'GET', htu: htu(), nonce: n }), /htm/],
    ['stale iat', proof(key, { htm: 'POST', htu: htu(), nonce: n, iat: Math.floor(Date.now() / 1000) - 600 }), /iat/],
    ['private jwk', proof(key, { htm: 'POST', htu: htu(), nonce: n, header: { jwk: { ...key.jwk, d: 'AAAA' } } }), /private/],
    ['folded headers', `${once}, ${once}`, /one DPoP header/],
  ];
  for (const [name, dpop, why] of cases) {
    r = await post(waf, '/token', form, { ...auth, dpop });
    assert.equal(r.status, 400, name);
    assert.equal(r.json.error, 'invalid_dpop_proof', name);
    assert.match(r.json.error_description, why, name);
  }
  const m = await (await fetch(`${waf.issuer}/metrics`)).text();
  assert.match(m, /imsgw_waf_dpop_refused_total [1-9]/);
  assert.match(m, /imsgw_waf_dpop_bound_tokens_total [1-9]/);
});

test('CORS lets the browser send DPoP and read DPoP-Nonce', async () => {
  const res = await fetch(`${waf.issuer}/token`, { method: 'OPTIONS', headers: { origin: 'http://127.0.0.1:8080', 'access-control-request-method': 'POST' } });
  assert.match(res.headers.get('access-control-allow-headers') || '', /DPoP/);
  assert.match(res.headers.get('access-control-expose-headers') || '', /DPoP-Nonce/);
});
