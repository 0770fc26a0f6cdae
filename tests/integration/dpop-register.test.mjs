// Issue 14 / checklist 76: DPoP on REGISTER (docs/dpop-sip.md). A DPoP-bound token needs a proof
// by its key for this REGISTER (htm, htu = Request-URI, ath, fresh iat, the gateway's nonce, a
// new jti); each way of getting it wrong is a 401 with the reason, a correct proof a 200. A
// bearer client keeps working unless the realm requires DPoP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, token, SipWs, registerMsg, stubRegisterCount, stubRegisterCountSettled, Daemon, freePort, httpOk, sleep } from './harness.mjs';
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

test('gateways sharing a flow-key (scale-out, or one restarted) do not take each other\'s nonces: a used proof does not pass again', async () => {
  // The jti cache is per gateway (shared by its workers only). Were the nonce key the same on
  // every gateway with the same flow-key, a proof used at one would pass once more at each other
  // one, and again at a restarted one within its max-age.
  const flowKey = '0123456789abcdef0123456789abcdef01234567';
  assert.deepEqual(await stack.gateway.stop(), { code: 0, sig: null });
  await stack.startGateway(['--flow-key', flowKey]);
  const tok = token(stack, 'alice', ['--jkt', key.jkt]);
  let c = await SipWs.open(stack.wsUrl);
  let r = await register(c, null, null);
  const used = proof(key, { htm: 'REGISTER', htu: RURI, nonce: r.headers['dpop-nonce'][0], accessToken: tok });
  r = await register(c, `DPoP ${tok}`, used);
  assert.equal(r.status, 200, challenge(r));
  c.close();
  // a second gateway with the same flow-key, as behind a balancer (docs/scale-out.md)
  const [port, sipPort] = [await freePort(), await freePort()];
  const second = new Daemon('imsgw-gateway', ['--port', String(port), '--sip-listen', `sip:127.0.0.1:${sipPort}`,
    '--next-hop', `sip:127.0.0.1:${stack.stubPort};transport=tcp`, '--authz-server', stack.issuer,
    '--waf-client-id', 'gateway', '--waf-client-secret-file', stack.gatewaySecretFile, '--flow-key', flowKey]);
  try {
    for (let i = 0; i < 200 && !(await httpOk(`http://127.0.0.1:${port}/healthz`)); i++) await sleep(50);
    c = await SipWs.open(`ws://127.0.0.1:${port}/sip`);
    r = await register(c, `DPoP ${tok}`, used);
    assert.equal(r.status, 401, 'the used proof at another gateway');
    assert.match(challenge(r), /use_dpop_nonce/);
    c.close();
  } finally {
    assert.deepEqual(await second.stop(), { code: 0, sig: null });
  }
  // the same gateway, restarted with the same flow-key: its replay cache is new
  assert.deepEqual(await stack.gateway.stop(), { code: 0, sig: null });
  await stack.startGateway(['--flow-key', flowKey]);
  c = await SipWs.open(stack.wsUrl);
  r = await register(c, `DPoP ${tok}`, used);
  assert.equal(r.status, 401, 'the used proof after a restart');
  assert.match(challenge(r), /use_dpop_nonce/);
  c.close();
  await stack.gateway.stop();
  await stack.startGateway(); // the suite's own gateway again
});
