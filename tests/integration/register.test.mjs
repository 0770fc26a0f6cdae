// Issue 2: the first registration end to end, through the real WAF, gateway and IMS stub.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startStack, token, SipWs, parseSip, registerMsg, stubRegisterCount, stubRegistersReach, stubRegisterCountSettled, sleep } from './harness.mjs';

let stack;
before(async () => { stack = await startStack(); });
after(async () => {
  const results = await stack.stop();
  for (const [name, r] of Object.entries(results))
    assert.deepEqual(r, { code: 0, sig: null }, `${name} must stop cleanly on SIGTERM`);
});

const b64url = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');

function assertInvalidToken(rsp) {
  assert.equal(rsp.status, 401);
  const www = rsp.headers['www-authenticate'];
  assert.equal(www.length, 1);
  assert.match(www[0], /^Bearer /);
  assert.match(www[0], /error="invalid_token"/);
  assert.match(www[0], new RegExp(`authz_server="${stack.issuer}"`));
}

test('handshake without the sip subprotocol is refused', async () => {
  await assert.rejects(SipWs.open(stack.wsUrl, []), /socket hang up|Unexpected server response|HTTP/);
  await assert.rejects(SipWs.open(stack.wsUrl, 'xmpp'));
  await assert.rejects(SipWs.open(`ws://127.0.0.1:${stack.gwPort}/other`, 'sip'));
  const c = await SipWs.open(stack.wsUrl, 'sip');
  assert.equal(c.ws.protocol, 'sip');
  c.close();
});

test('REGISTER without credentials gets the RFC 8898 Bearer challenge', async () => {
  const before = await stubRegisterCountSettled(stack); // earlier lines may trail their 200
  const c = await SipWs.open(stack.wsUrl);
  const rsp = await c.request(registerMsg());
  assert.equal(rsp.status, 401);
  assert.deepEqual(rsp.headers['www-authenticate'],
    [`Bearer realm="ims.test", scope="ims:register", authz_server="${stack.issuer}"`]);
  assert.match(rsp.headers.to[0], /;tag=/);
  assert.match(rsp.headers.via[0], /branch=z9hG4bK-wic-/);
  c.close();
  assert.equal(await stubRegisterCountSettled(stack), before);
});

test('a WAF-issued token registers through the stub: 200 with Service-Route', async () => {
  const before = await stubRegisterCountSettled(stack); // earlier lines may trail their 200
  const c = await SipWs.open(stack.wsUrl);
  const first = await c.request(registerMsg({ cseq: 1, callId: 'ok-1' }));
  assert.equal(first.status, 401);
  const rsp = await c.request(registerMsg({ cseq: 2, callId: 'ok-1', auth: `Bearer ${token(stack, 'alice')}` }));
  assert.equal(rsp.status, 200, rsp.text);
  assert.ok(rsp.headers['service-route']?.[0], 'Service-Route present');
  assert.match(rsp.headers['p-associated-uri'][0], /sip:alice@ims\.test/);
  assert.match(rsp.headers.path[0], /;lr/);
  assert.match(rsp.headers.path[0], /;ob/);
  assert.equal(rsp.headers.via.length, 1, 'the gateway removed its own Via');
  assert.equal(rsp.headers['p-charging-function-addresses'], undefined);
  assert.equal(rsp.headers['p-charging-vector'], undefined);
  assert.equal(await stubRegistersReach(stack, before + 1), before + 1);
  assert.match(stack.stub.log, /register aor=sip:alice@ims\.test from=127\.0\.0\.1 status=200/);
  c.close();
});

test('the TS 24.371 form Bearer access_token="…" registers too', async () => {
  const c = await SipWs.open(stack.wsUrl);
  const rsp = await c.request(registerMsg({ user: 'bob', auth: `Bearer access_token="${token(stack, 'bob')}"` }));
  assert.equal(rsp.status, 200, rsp.text);
  c.close();
});

test('bad tokens get 401 invalid_token and nothing reaches the stub', async (t) => {
  const good = token(stack, 'alice');
  const [h, p, s] = good.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const jwks = await (await fetch(`${stack.issuer}/jwks.json`)).json();
  const pem = crypto.createPublicKey({ key: jwks.keys[0], format: 'jwk' }).export({ type: 'spki', format: 'pem' });
  const hsHeader = b64url({ alg: 'HS256', typ: 'at+jwt', kid: header.kid });
  const hsSig = crypto.createHmac('sha256', pem).update(`${hsHeader}.${p}`).digest('base64url');
  const now = Math.floor(Date.now() / 1000);
  const cases = {
    'signature altered': `${h}.${p}.${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`,
    'alg none': `${b64url({ alg: 'none', typ: 'at+jwt' })}.${p}.`,
    'HS256 signed with the public key': `${hsHeader}.${p}.${hsSig}`,
    'expired': token(stack, 'alice', ['--issued-at', String(now - 2000), '--lifetime', '900']),
    'payload swapped (bob claims under alice signature)': `${h}.${token(stack, 'bob').split('.')[1]}.${s}`,
  };
  const before = await stubRegisterCountSettled(stack); // earlier lines may trail their 200
  const c = await SipWs.open(stack.wsUrl);
  let cseq = 1;
  for (const [name, tok] of Object.entries(cases)) {
    await t.test(name, async () => {
      const rsp = await c.request(registerMsg({ cseq: cseq++, callId: 'bad-tokens', auth: `Bearer ${tok}` }));
      assertInvalidToken(rsp);
    });
  }
  c.close();
  assert.equal(await stubRegisterCountSettled(stack), before, 'no REGISTER reached the stub');
});

test('a token for alice cannot register bob (403)', async () => {
  const c = await SipWs.open(stack.wsUrl);
  const rsp = await c.request(registerMsg({ to: 'bob', auth: `Bearer ${token(stack, 'alice')}` }));
  assert.equal(rsp.status, 403);
  c.close();
});

test('bad input: non-SIP closes with 1007, broken SIP gets 400, others unaffected', async () => {
  const bystander = await SipWs.open(stack.wsUrl);
  const reg = await bystander.request(registerMsg({ user: 'bob', callId: 'bystander', auth: `Bearer ${token(stack, 'bob')}` }));
  assert.equal(reg.status, 200);

  const junk = await SipWs.open(stack.wsUrl);
  junk.send('this is not SIP at all');
  assert.equal(await junk.closed, 1007);

  const broken = await SipWs.open(stack.wsUrl);
  const r400 = await broken.request('OPTIONS sip:ims.test SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bK-b1\r\nCSeq: nonsense\r\n\r\n');
  assert.equal(r400.status, 400);
  const two = registerMsg({ callId: 'two' }) + registerMsg({ callId: 'two', cseq: 2 });
  assert.equal((await broken.request(two)).status, 400, 'two SIP messages in one WebSocket message');
  broken.close();

  const again = await bystander.request(registerMsg({ user: 'bob', callId: 'bystander', cseq: 2, auth: `Bearer ${token(stack, 'bob')}` }));
  assert.equal(again.status, 200, 'the other connection still works');
  bystander.close();
});

test('CRLFCRLF keepalive is answered with CRLF; oversize message closes with 1009', async () => {
  const c = await SipWs.open(stack.wsUrl);
  c.send('\r\n\r\n');
  assert.equal(await c.next(), '\r\n');
  c.send('OPTIONS sip:ims.test SIP/2.0\r\n' + 'X-Pad: ' + 'a'.repeat(70000) + '\r\n\r\n');
  assert.equal(await c.closed, 1009);
});

test('REGISTER checks: Max-Forwards 0 → 483, no Supported: path → 421', async () => {
  const c = await SipWs.open(stack.wsUrl);
  const mf0 = registerMsg({ callId: 'mf0' }).replace('Max-Forwards: 70', 'Max-Forwards: 0');
  assert.equal((await c.request(mf0)).status, 483);
  const r421 = await c.request(registerMsg({ callId: 'nopath', supported: 'outbound' }));
  assert.equal(r421.status, 421);
  assert.deepEqual(r421.headers.require, ['path']);
  c.close();
});

test('/healthz, /metrics and the web client are served', async () => {
  assert.equal(await (await fetch(`${stack.httpUrl}/healthz`)).text(), 'ok\n');
  const metrics = await (await fetch(`${stack.httpUrl}/metrics`)).text();
  assert.match(metrics, /imsgw_register_total\{outcome="ok"\} [1-9]/);
  assert.match(metrics, /imsgw_register_total\{outcome="invalid_token"\} [1-9]/);
  assert.match(metrics, /imsgw_jwks_fetch_total\{result="ok"\} [1-9]/);
  const page = await fetch(`${stack.httpUrl}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<html/);
  await sleep(10);
});

test('no token, password or signature appears in any log', () => {
  const secrets = [token(stack, 'alice').split('.')[2], stack.passwords.alice, stack.passwords.bob];
  for (const d of [stack.gateway, stack.waf, stack.stub])
    for (const s of secrets) assert.ok(!d.log.includes(s), `${d.name} log leaks a secret`);
});
