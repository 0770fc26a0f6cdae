// Issue 14 / checklist 76: DPoP on REGISTER (docs/dpop-sip.md). A DPoP-bound token needs a proof
// by its key for this REGISTER (htm, htu = Request-URI, ath, fresh iat, the gateway's nonce, a
// new jti); each way of getting it wrong is a 401 with the reason, a correct proof a 200. A
// bearer client keeps working unless the realm requires DPoP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, token, SipWs, registerMsg, stubRegisterCount, stubRegisterCountSettled } from './harness.mjs';
import { dpopKey, proof } from './dpop.mjs';

let stack;
before(async () => { stack = await startStack(); });
after(async () => {
  const results = await stack.stop();
  for (const [name, r] of Object.entries(results)) assert.deepEqual(r, { code: 0, sig: null }, name);
});

const RURI = 'sip:ims.test';
const key = dpopKey();
let seq = 0;

/** A REGISTER with the given Authorization and DPoP header (null: none). */
async function register(c, auth, dpop, { user = 'alice', extra = [] } = {}) {
  seq++;
  return c.request(registerMsg({ user, callId: `dpop-${user}-${seq}`, cseq: seq, auth,
    extra: [...(dpop ? [`DPoP: ${dpop}`] : []), ...extra] }));
}

const challenge = (r) => (r.headers['www-authenticate'] || []).join(' | ');

test('a bound token: each wrong proof is refused with its reason; the right one registers', async () => {
  const tok = token(stack, 'alice', ['--jkt', key.jkt]);
  const c = await SipWs.open(stack.wsUrl);
  // without any credentials: the usual Bearer challenge, with the gateway's nonce
  let r = await register(c, null, null);
  assert.equal(r.status, 401);
  assert.match(challenge(r), /^Bearer realm="ims\.test"/);
  let nonce = r.headers['dpop-nonce'][0];
  assert.ok(nonce);
  const good = (over = {}) => proof(key, { htm: 'REGISTER', htu: RURI, nonce, accessToken: tok, ...over });
  const n0 = stubRegisterCount(stack);
  const other = dpopKey();
  const cases = [
    ['Bearer scheme', `Bearer ${tok}`, good(), /invalid_token.*DPoP-bound token needs the DPoP scheme/],
    ['no proof (a copied token)', `DPoP ${tok}`, null, /invalid_dpop_proof.*DPoP header is missing/],
    ['another key', `DPoP ${tok}`, proof(other, { htm: 'REGISTER', htu: RURI, nonce, accessToken: tok }),
      /invalid_dpop_proof.*another key than the token is bound to/],
    ['stale iat', `DPoP ${tok}`, good({ iat: Math.floor(Date.now() / 1000) - 300 }), /invalid_dpop_proof.*iat/],
    ['wrong htm', `DPoP ${tok}`, good({ htm: 'INVITE' }), /invalid_dpop_proof.*htm/],
    ['wrong htu', `DPoP ${tok}`, good({ htu: 'sip:other.test' }), /invalid_dpop_proof.*htu/],
    ['wrong ath', `DPoP ${tok}`, good({ accessToken: `${tok}x` }), /invalid_dpop_proof.*ath/],
    ['no nonce', `DPoP ${tok}`, good({ nonce: undefined }), /use_dpop_nonce/],
    ['forged nonce', `DPoP ${tok}`, good({ nonce: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }), /use_dpop_nonce/],
    ['typ JWT', `DPoP ${tok}`, good({ header: { typ: 'JWT' } }), /invalid_dpop_proof.*typ/],
  ];
  for (const [name, auth, dpop, why] of cases) {
    r = await register(c, auth, dpop);
    assert.equal(r.status, 401, name);
    assert.match(challenge(r), why, name);
    assert.ok(r.headers['dpop-nonce']?.[0], `${name}: a fresh nonce comes with the refusal`);
  }
  assert.equal(await stubRegisterCountSettled(stack), n0, 'nothing refused reached the core');
  // the right proof registers; the 200 brings the next nonce
  const ok = good();
  r = await register(c, `DPoP ${tok}`, ok);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.dpop, undefined);
  nonce = r.headers['dpop-nonce'][0];
  assert.ok(nonce);
  // the same proof again (replayed jti), also from another connection
  r = await register(c, `DPoP ${tok}`, ok);
  assert.equal(r.status, 401);
  assert.match(challenge(r), /already used \(jti\)/);
  const thief = await SipWs.open(stack.wsUrl);
  r = await register(thief, `DPoP ${tok}`, ok);
  assert.equal(r.status, 401);
  assert.match(challenge(r), /already used \(jti\)/);
  thief.close();
  // a fresh proof with the nonce of the 200 refreshes the registration
  r = await register(c, `DPoP ${tok}`, good());
  assert.equal(r.status, 200);
  // the core never sees the proof
  assert.doesNotMatch(stack.stub.log, /DPoP:/i);
  c.close();
  const m = await (await fetch(`${stack.httpUrl}/metrics`)).text();
  assert.match(m, /imsgw_dpop_refused_total 1[2-9]/);
});

test('a bearer client still registers; an unbound token under DPoP is refused', async () => {
  const c = await SipWs.open(stack.wsUrl);
  let r = await register(c, `Bearer ${token(stack, 'bob')}`, null, { user: 'bob' });
  assert.equal(r.status, 200);
  const tok = token(stack, 'alice');
  r = await register(c, `DPoP ${tok}`, proof(key, { htm: 'REGISTER', htu: RURI, accessToken: tok }));
  assert.equal(r.status, 401);
  assert.match(challenge(r), /bearer token under the DPoP scheme/);
  c.close();
});

test('require-dpop: a bearer token is refused; a bound one with proof registers', async () => {
  assert.deepEqual(await stack.gateway.stop(), { code: 0, sig: null });
  await stack.startGateway(['--require-dpop', 'true']);
  const c = await SipWs.open(stack.wsUrl);
  let r = await register(c, `Bearer ${token(stack, 'bob')}`, null, { user: 'bob' });
  assert.equal(r.status, 401);
  assert.match(challenge(r), /^DPoP realm.*invalid_token.*this realm requires DPoP-bound tokens/);
  assert.equal(r.headers['www-authenticate'].length, 1);
  r = await register(c, null, null, { user: 'bob' });
  assert.match(challenge(r), /^DPoP realm="ims\.test", scope="ims:register", authz_server="[^"]+", algs="ES256 RS256"$/);
  const nonce = r.headers['dpop-nonce'][0];
  const tok = token(stack, 'alice', ['--jkt', key.jkt]);
  r = await register(c, `DPoP ${tok}`, proof(key, { htm: 'REGISTER', htu: RURI, nonce, accessToken: tok }));
  assert.equal(r.status, 200);
  c.close();
});
