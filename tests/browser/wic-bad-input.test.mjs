// Hostile or broken input at the web client: each case shows a clear error on the page and the
// user can still sign in afterwards. Screenshots: tests/artifacts/wic-bad-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWicStack, launch, openPage, signIn, byId, shot, expectText, expectAccessible } from './wic-helpers.mjs';

let stack;
let browser;

before(async () => {
  stack = await startWicStack();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  const exits = await stack?.stop();
  if (process.env.IMSGW_BROWSER_DEBUG) console.log(stack.gateway.log);
  if (exits) for (const [name, r] of Object.entries(exits)) assert.deepEqual(r, { code: 0, sig: null }, `${name} exit`);
});

const errorText = (page) => page.getByRole('alert').textContent();

/** Clicks "Sign in" and returns the state the page sent to the WAF (the page waits on its form). */
async function beginSignIn(page) {
  await page.goto(`${stack.httpUrl}/`);
  await byId(page, 'login').click();
  await page.waitForURL(`${stack.issuer}/**`);
  return new URL(page.url()).searchParams.get('state');
}

/** After an error: signed out, the error visible, and a normal sign-in works. */
async function recovers(page, name) {
  assert.equal(await byId(page, 'reg-status').textContent(), 'Signed out');
  assert.equal(new URL(page.url()).search, '', 'the callback was removed from the address bar');
  await shot(page, `wic-bad-${name}`);
  await expectAccessible(page, `error: ${name}`);
  await signIn(page, stack, 'alice', stack.passwords.alice);
}

test('a callback with a forged state is refused', async () => {
  const page = await openPage(browser, 'forged-state');
  await beginSignIn(page);
  await page.goto(`${stack.httpUrl}/?code=abc&state=forged`);
  await expectText(page, page.getByRole('alert'), /does not belong to this sign-in attempt/);
  assert.deepEqual(page.grants, [], 'the code was not redeemed');
  await recovers(page, 'state');
  await page.context().close();
});

test('a code issued to another client is refused', async () => {
  const page = await openPage(browser, 'other-client');
  // Sign in for the confidential client "gateway" and catch the code on its redirect.
  let otherCode = null;
  await page.route('http://127.0.0.1:8080/cb**', (route) => {
    otherCode = new URL(route.request().url()).searchParams.get('code');
    return route.fulfill({ body: 'caught' });
  });
  const q = new URLSearchParams({ response_type: 'code', client_id: 'gateway', redirect_uri: 'http://127.0.0.1:8080/cb',
    state: 'other', scope: 'ims:register', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' });
  await page.goto(`${stack.issuer}/authorize?${q}`);
  await page.fill('input[name="username"]', 'alice');
  await page.fill('input[name="password"]', stack.passwords.alice);
  await page.click('button[value="allow"]');
  await page.waitForURL('http://127.0.0.1:8080/cb**');
  assert.ok(otherCode, 'got a code for the other client');
  const state = await beginSignIn(page);
  await page.goto(`${stack.httpUrl}/?code=${encodeURIComponent(otherCode)}&state=${encodeURIComponent(state)}`);
  await expectText(page, page.getByRole('alert'), /did not accept this sign-in/);
  assert.deepEqual(page.grants, ['authorization_code']);
  await recovers(page, 'client');
  await page.context().close();
});

test('a token response missing fields is refused', async () => {
  const page = await openPage(browser, 'missing-fields');
  await page.route(`${stack.issuer}/token`, async (route) => {
    const res = await route.fetch();
    const body = await res.json();
    delete body.access_token;
    await route.fulfill({ response: res, json: body });
  });
  await beginSignIn(page);
  await page.fill('input[name="username"]', 'alice');
  await page.fill('input[name="password"]', stack.passwords.alice);
  await page.click('button[value="allow"]');
  await expectText(page, page.getByRole('alert'), /answer is incomplete \(no access token\)/);
  await page.unroute(`${stack.issuer}/token`);
  await recovers(page, 'fields');
  await page.context().close();
});

test('input the SIP library rejects is reported and the phone keeps working', async () => {
  const page = await openPage(browser, 'bad-sip');
  await signIn(page, stack, 'alice', stack.passwords.alice);
  await byId(page, 'dial-input').fill('sip:bad user@ims.test');
  await byId(page, 'call').click();
  await expectText(page, page.getByRole('alert'), /is not a user name or SIP address that can be called/);
  await byId(page, 'msg-to').fill('<script>');
  await byId(page, 'msg-input').fill('hi');
  await byId(page, 'msg-send').click();
  await expectText(page, page.getByRole('alert'), /"<script>" is not a user name or SIP address/);
  await expectText(page, 'reg-status', /^Registered$/);
  assert.equal(await byId(page, 'call').isEnabled(), true);
  await shot(page, 'wic-bad-sip');
  await byId(page, 'logout').click();
  await expectText(page, 'reg-status', /^Signed out$/);
  await signIn(page, stack, 'alice', stack.passwords.alice);
  await page.context().close();
});

test('a Bearer challenge naming an untrusted authorization server is not followed', async () => {
  const page = await openPage(browser, 'untrusted');
  // This page trusts only another server; its first token is one the gateway rejects (401).
  await page.route(`${stack.httpUrl}/config.json`, async (route) => {
    const res = await route.fetch();
    await route.fulfill({ response: res, json: { ...(await res.json()), trustedAuthzServers: ['https://waf.example.net'] } });
  });
  await page.route(`${stack.issuer}/token`, async (route) => {
    const res = await route.fetch();
    const body = await res.json();
    if (!body.access_token) return route.fulfill({ response: res, json: body }); // the DPoP nonce probe
    const [h, p] = body.access_token.split('.');
    await route.fulfill({ response: res, json: { ...body, access_token: `${h}.${p}.AAAA` } });
  });
  await signIn(page, stack, 'alice', stack.passwords.alice, { expectRegistered: false });
  await expectText(page, page.getByRole('alert'), new RegExp(`unknown server \\(${stack.issuer.replace(/[.:/]/g, '\\$&')}\\); for your safety this was not followed`));
  assert.deepEqual(page.grants, ['authorization_code'], 'no token was fetched for the untrusted server');
  await shot(page, 'wic-bad-untrusted');
  await page.context().close();
});

test('a Bearer challenge from the trusted server renews the token and registers', async () => {
  const page = await openPage(browser, 'challenge');
  let first = true;
  await page.route(`${stack.issuer}/token`, async (route) => {
    const res = await route.fetch();
    const body = await res.json();
    if (first && body.access_token) { // only the first token is broken: the renewal is real
      first = false;
      const [h, p] = body.access_token.split('.');
      body.access_token = `${h}.${p}.AAAA`;
    }
    await route.fulfill({ response: res, json: body });
  });
  await signIn(page, stack, 'alice', stack.passwords.alice);
  assert.deepEqual(page.grants, ['authorization_code', 'refresh_token']);
  await page.context().close();
});

test('a challenge whose renewal is refused: the page says the sign-in expired and signs out', async () => {
  const page = await openPage(browser, 'expired');
  await page.route(`${stack.issuer}/token`, async (route) => {
    const grant = new URLSearchParams(route.request().postData() || '').get('grant_type');
    if (grant === 'refresh_token') return route.fulfill({ status: 400, json: { error: 'invalid_grant', error_description: 'the refresh token has expired' } });
    const res = await route.fetch();
    const body = await res.json();
    if (body.access_token) body.access_token = body.access_token.replace(/\.[^.]*$/, '.AAAA'); // the gateway answers 401
    return route.fulfill({ response: res, json: body });
  });
  await signIn(page, stack, 'alice', stack.passwords.alice, { expectRegistered: false });
  await expectText(page, 'reg-status', /^Signed out: your sign-in expired$/);
  await expectText(page, page.getByRole('alert'), /^Your sign-in expired and could not be renewed/);
  assert.ok(await byId(page, 'login').isVisible());
  await shot(page, 'wic-bad-expired');
  await page.context().close();
});
