// Two WAF replicas on one PostgreSQL database (issue 15): what one issues the other honours, a
// refresh token has at most one child however the replicas race, a reused refresh token revokes
// its family on both, and when one replica dies the other goes on. Runs only under
// tests/pg/with-pg.sh (registered as integration.waf-replicas-postgresql).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import crypto from 'node:crypto';
import { bin, freePort, sleep, testDatabaseArgs } from './harness.mjs';
import { startWaf, post, basic, wicTokens, openForm, authorizeUrl, pkce, signIn, WIC_REDIRECT } from './waf-helpers.mjs';
import { dpopKey, proof } from './dpop.mjs';

const onPostgres = Boolean(process.env.IMSGW_TEST_PG_HOST);
let a, b;

/** A second WAF daemon on a's database and issuer (as behind a balancer), own data dir and port. */
async function startReplica(first) {
  const port = await freePort();
  const dir = path.join(first.dir, 'replica');
  const args = [...first.args];
  args[args.indexOf('--data-dir') + 1] = dir;
  args[args.indexOf('--port') + 1] = String(port);
  const r = { port, issuer: `http://127.0.0.1:${port}`, passwords: first.passwords, log: '' };
  r.proc = spawn(bin('imsgw-waf'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  r.proc.stderr.on('data', (d) => { r.log += d; });
  r.exited = new Promise((resolve) => r.proc.on('exit', (code, sig) => resolve({ code, sig })));
  const until = Date.now() + 10000;
  while (!(await fetch(`${r.issuer}/healthz`).catch(() => null))?.ok) {
    if (Date.now() > until) throw new Error(`the replica did not start: ${r.log}`);
    await sleep(50);
  }
  r.stop = async () => {
    if (r.proc.exitCode === null && r.proc.signalCode === null) r.proc.kill('SIGTERM');
    return r.exited;
  };
  return r;
}

const refresh = (waf, token) => post(waf, '/token', { grant_type: 'refresh_token', refresh_token: token, client_id: 'wic' });
let busyRetries = 0;
/** As a client does: a 503 "try again" (the write lock stayed taken longer than the WAF waits,
 * which happens on a loaded test host) is retried after a pause; nothing was written by it. */
async function retried(fn) {
  for (let attempt = 0; ; attempt++) {
    const r = await fn().catch((e) => ({ status: /\b503\b/.test(e.message) ? 503 : 0, error: e }));
    if (r.status !== 503 || attempt === 10) {
      if (r.error) throw r.error;
      return r;
    }
    busyRetries++;
    await sleep(100);
  }
}
const introspect = (waf, first, token) => post(waf, '/introspect', { token }, { authorization: basic('gateway', first.secret) });

before(async () => {
  if (!onPostgres) return;
  a = await startWaf();
  b = await startReplica(a);
});
after(async () => {
  await b?.stop();
  await a?.stop();
});

test('one JWKS: both replicas sign with the current key from the database', { skip: !onPostgres }, async () => {
  const ja = await (await fetch(`${a.issuer}/jwks.json`)).json();
  const jb = await (await fetch(`${b.issuer}/jwks.json`)).json();
  assert.deepEqual(ja, jb);
  const t = await wicTokens(b, 'alice');
  assert.equal(t.status, 200, t.text);
  const header = JSON.parse(Buffer.from(t.json.access_token.split('.')[0], 'base64url'));
  assert.equal(header.kid, ja.keys[0].kid, 'signed by the current key');
  assert.equal((await introspect(a, a, t.json.access_token)).json.active, true, 'b issued, a honours');
  // the private keys in the shared database are sealed, never in clear
  const url = a.args[a.args.indexOf('--database') + 1];
  const stored = execFileSync('psql', [url, '-Atc', 'SELECT private_pem FROM signing_keys'], { encoding: 'utf8' })
    .trim().split('\n');
  assert.ok(stored.length >= 1);
  for (const v of stored) {
    assert.match(v, /^enc:v1:[A-Za-z0-9_-]+$/);
    assert.doesNotMatch(v, /PRIVATE KEY/);
  }
});

test('on PostgreSQL a WAF without a key-encryption key refuses to store a signing key', { skip: !onPostgres }, async () => {
  const args = testDatabaseArgs().slice(0, 2); // a fresh database, no key file
  const env = { ...process.env };
  delete env.IMSGW_WAF_KEY_ENCRYPTION_KEY;
  const r = spawnSync(bin('imsgw-waf'), ['--data-dir', path.join(a.dir, 'nokek'), '--port', String(await freePort()), ...args],
    { env, encoding: 'utf8', timeout: 20000 });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /encrypted at rest: set key-encryption-key-file/);
});

test('a sign-in form served by one replica is accepted by the other (CSRF key from the shared key-encryption key)',
  { skip: !onPostgres }, async () => {
    const { challenge } = pkce();
    const f = await openForm(b, authorizeUrl({ code_challenge: challenge, code_challenge_method: 'S256', state: 's' }));
    const r = await post(a, '/authorize', { ...f.hidden, username: 'alice', password: a.passwords.alice },
      { cookie: f.cookie });
    assert.equal(r.status, 303, r.text.slice(0, 300));
    assert.ok(new URL(r.res.headers.get('location')).searchParams.get('code'));
  });

test('1,000 concurrent refresh rotations alternating between the replicas: none lost, each token one child',
  { skip: !onPostgres, timeout: 120000 }, async () => {
    const families = 50, rounds = 20;
    const chains = [];
    for (let i = 0; i < families; i++) {
      const t = await retried(() => wicTokens(i % 2 ? a : b, ['alice', 'bob', 'carol'][i % 3]));
      assert.equal(t.status, 200, t.text);
      chains.push([t.json.refresh_token]);
    }
    // every family rotates round after round, each step on the other replica than the last;
    // the families run at once, so 50 rotations are in flight across the two WAFs all the time
    await Promise.all(chains.map(async (chain, i) => {
      for (let r = 0; r < rounds; r++) {
        const res = await retried(() => refresh((i + r) % 2 ? a : b, chain.at(-1)));
        assert.equal(res.status, 200, `family ${i} round ${r}: ${res.text}`);
        chain.push(res.json.refresh_token);
      }
    }));
    const all = chains.flat();
    assert.equal(all.length, families * (rounds + 1));
    assert.equal(new Set(all).size, all.length, 'every rotation issued a new token');
    if (busyRetries) console.log(`# ${busyRetries} rotations answered 503 busy and were retried`);
    // the last token of each chain is the one live token of its family, on both replicas
    for (const chain of chains.slice(0, 5)) {
      assert.equal((await introspect(a, a, chain.at(-1))).json.active, true);
      assert.equal((await introspect(b, a, chain.at(-2))).json.active, false);
    }
  });

test('the same refresh token sent to both replicas at once: one child at most, and the reuse revokes the family on both',
  { skip: !onPostgres, timeout: 60000 }, async () => {
    const races = 30;
    const outcomes = await Promise.all(Array.from({ length: races }, async (_, i) => {
      const t = await retried(() => wicTokens(i % 2 ? a : b, 'bob'));
      assert.equal(t.status, 200, t.text);
      const [ra, rb] = await Promise.all([retried(() => refresh(a, t.json.refresh_token)),
        retried(() => refresh(b, t.json.refresh_token))]);
      return { t, ra, rb };
    }));
    for (const { t, ra, rb } of outcomes) {
      const children = [ra, rb].filter((r) => r.status === 200);
      assert.ok(children.length <= 1, `two children of one refresh token (statuses ${ra.status}, ${rb.status})`);
      assert.ok([ra, rb].some((r) => r.status === 400 && r.json?.error === 'invalid_grant'),
        'the second presentation is a reuse');
      // the family is revoked everywhere: the child (if any) and the first access token are dead
      for (const waf of [a, b]) {
        assert.equal((await introspect(waf, a, t.json.access_token)).json.active, false);
        if (children.length) {
          assert.equal((await introspect(waf, a, children[0].json.refresh_token)).json.active, false);
          assert.equal((await refresh(waf, children[0].json.refresh_token)).status, 400);
        }
      }
    }
  });

test('PostgreSQL stopped: 503 + Retry-After in bounded time, nothing lost; back when it returns',
  { skip: !onPostgres, timeout: 60000 }, async () => {
    const t = await wicTokens(a, 'alice');
    assert.equal(t.status, 200, t.text);
    execFileSync(process.env.IMSGW_TEST_PG_CTL, ['stop'], { timeout: 30000 });
    try {
      for (const waf of [a, b]) {
        const started = Date.now();
        const r = await refresh(waf, t.json.refresh_token);
        assert.equal(r.status, 503, r.text);
        assert.equal(r.json.error, 'temporarily_unavailable');
        assert.ok(Number(r.res.headers.get('retry-after')) > 0);
        assert.ok(Date.now() - started < 5000, 'answered within the bounded waits');
      }
    } finally {
      execFileSync(process.env.IMSGW_TEST_PG_CTL, ['start'], { timeout: 30000 });
    }
    // the refresh token was not consumed by the failed attempts; the WAFs reconnect by themselves,
    // and the first request after the restart already succeeds (it is re-sent on a new connection)
    const r = await refresh(b, t.json.refresh_token);
    assert.equal(r.status, 200, r.text);
    assert.equal((await refresh(a, r.json.refresh_token)).status, 200);
  });

test('numeric codes across replicas: wrong guesses count on both, a code redeems once however the replicas race',
  { skip: !onPostgres }, async () => {
    const code = async () => {
      const page = await signIn(a, '/code', 'bob', a.passwords.bob);
      assert.equal(page.status, 200, page.text.slice(0, 300));
      return /data-testid="code">(\d+)</.exec(page.text)[1];
    };
    const redeem = (waf, digits) => retried(() => post(waf, '/token',
      { grant_type: 'authorization_code', code: digits, impu: 'sip:bob@ims.test' }, { authorization: basic('gateway', a.secret) }));
    // the same code at both replicas at the same moment, 10 times: exactly one set of tokens each time
    for (let i = 0; i < 10; i++) {
      const digits = await code();
      const [ra, rb] = await Promise.all([redeem(a, digits), redeem(b, digits)]);
      assert.deepEqual([ra.status, rb.status].sort(), [200, 400], `${ra.text} / ${rb.text}`);
    }
    // numeric-max-attempts (3) wrong guesses, two at one replica and one at the other, all at
    // once: the live code is locked for both
    const digits = await code();
    const wrong = String((Number(digits) + 1) % 1e9).padStart(9, '0');
    const guesses = await Promise.all([redeem(a, wrong), redeem(b, wrong), redeem(a, wrong)]);
    for (const g of guesses) assert.equal(g.json.error, 'invalid_grant');
    assert.equal((await redeem(b, digits)).json.error, 'invalid_grant', 'locked after 3 guesses over 2 replicas');
  });

test('device-code polling across replicas: a poll at one replica right after one at the other is slow_down',
  { skip: !onPostgres }, async () => {
    const da = await retried(() => post(a, '/device_authorization', { client_id: 'wic', scope: 'ims:register' }));
    assert.equal(da.status, 200, da.text);
    const poll = (waf) => retried(() => post(waf, '/token', {
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: da.json.device_code, client_id: 'wic' }));
    assert.equal((await poll(a)).json.error, 'authorization_pending');
    assert.equal((await poll(b)).json.error, 'slow_down');
  });

test('sign-in back-off is shared: failures at one replica throttle the same user and source at the other',
  { skip: !onPostgres }, async () => {
    // login-max-failures-user is 3 (waf-helpers): three failures for dave's name at a …
    for (let i = 0; i < 3; i++) {
      const r = await signIn(a, authorizeUrl({ code_challenge: pkce().challenge, code_challenge_method: 'S256' }),
        'dave', 'not-the-password');
      assert.equal(r.status, 401, 'the form again, with an error');
    }
    // … and b makes the next attempt wait, as a would
    const held = await signIn(b, authorizeUrl({ code_challenge: pkce().challenge, code_challenge_method: 'S256' }),
      'dave', 'not-the-password');
    assert.equal(held.status, 429, held.text.slice(0, 300));
    assert.match(held.text, /Too many failed sign-ins/);
    const url = a.args[a.args.indexOf('--database') + 1];
    const rows = execFileSync('psql', [url, '-Atc', "SELECT count FROM throttles WHERE key = 'fail/us:dave|127.0.0.1'"],
      { encoding: 'utf8' }).trim();
    assert.equal(rows, '3', 'the failures are counted in the shared database');
  });

test('a DPoP nonce one replica gave is accepted by the other (nonce key from the shared key-encryption key)',
  { skip: !onPostgres }, async () => {
    const key = dpopKey();
    const htu = `${a.issuer}/token`;
    const { verifier, challenge } = pkce();
    const s = await signIn(a, authorizeUrl({ code_challenge: challenge, code_challenge_method: 'S256', state: 's' }),
      'alice', a.passwords.alice);
    assert.equal(s.status, 303, s.text.slice(0, 300));
    const code = new URL(s.res.headers.get('location')).searchParams.get('code');
    const form = { grant_type: 'authorization_code', code, client_id: 'wic', redirect_uri: WIC_REDIRECT, code_verifier: verifier };
    const first = await post(a, '/token', form, { dpop: proof(key, { htm: 'POST', htu }) });
    assert.equal(first.json.error, 'use_dpop_nonce');
    const nonce = first.res.headers.get('dpop-nonce');
    const t = await retried(() => post(b, '/token', form, { dpop: proof(key, { htm: 'POST', htu, nonce }) }));
    assert.equal(t.status, 200, t.text);
    assert.equal(t.json.token_type, 'DPoP');
  });

test('a DPoP proof used at one replica is refused at the other (the jti cache is in the database)',
  { skip: !onPostgres }, async () => {
    const key = dpopKey();
    const htu = `${a.issuer}/token`; // the replicas share one issuer
    /** A fresh authorization code for alice and the /token form that redeems it. */
    const codeForm = async () => {
      const { verifier, challenge } = pkce();
      const s = await signIn(a, authorizeUrl({ code_challenge: challenge, code_challenge_method: 'S256', state: 's' }),
        'alice', a.passwords.alice);
      assert.equal(s.status, 303, s.text.slice(0, 300));
      const code = new URL(s.res.headers.get('location')).searchParams.get('code');
      return { grant_type: 'authorization_code', code, client_id: 'wic', redirect_uri: WIC_REDIRECT, code_verifier: verifier };
    };
    const jtiRefused = (r) => r.status === 400 && r.json?.error === 'invalid_dpop_proof' &&
      /already used \(jti\)/.test(r.json.error_description);
    const nonce = (await post(a, '/token', await codeForm(), { dpop: proof(key, { htm: 'POST', htu }) }))
      .res.headers.get('dpop-nonce');
    // used at a, then replayed at b (with another code, so only the proof can be the reason)
    const used = proof(key, { htm: 'POST', htu, nonce });
    const ok = await retried(async () => post(a, '/token', await codeForm(), { dpop: used }));
    assert.equal(ok.status, 200, ok.text);
    const replay = await retried(async () => post(b, '/token', await codeForm(), { dpop: used }));
    assert.ok(jtiRefused(replay), `replayed at the other replica: ${replay.status} ${replay.text}`);
    // one proof at both replicas at the same moment, ten times: never accepted twice
    for (let i = 0; i < 10; i++) {
      const pr = proof(key, { htm: 'POST', htu, nonce });
      const [fa, fb] = [await codeForm(), await codeForm()];
      const rs = await Promise.all([retried(() => post(a, '/token', fa, { dpop: pr })),
        retried(() => post(b, '/token', fb, { dpop: pr }))]);
      assert.equal(rs.filter((r) => r.status === 200).length, 1, rs.map((r) => `${r.status} ${r.text}`).join(' / '));
      assert.equal(rs.filter(jtiRefused).length, 1);
    }
    const url = a.args[a.args.indexOf('--database') + 1];
    const rows = Number(execFileSync('psql', [url, '-Atc', 'SELECT count(*) FROM dpop_jtis'], { encoding: 'utf8' }).trim());
    assert.ok(rows >= 11, `proofs recorded in the shared table: ${rows}`);
  });

test('one DPoP key holds at most 128 live proofs of the shared table; other keys go on',
  { skip: !onPostgres }, async () => {
    const key = dpopKey();
    const htu = `${a.issuer}/token`;
    // a refresh token that does not exist: the proof is checked and recorded before the grant,
    // which then fails, so each request adds one row for this key
    const form = { grant_type: 'refresh_token', refresh_token: 'no-such-token', client_id: 'wic' };
    const nonce = (await post(a, '/token', form, { dpop: proof(key, { htm: 'POST', htu }) }))
      .res.headers.get('dpop-nonce');
    // a fresh proof per attempt (a request answered 503 may have recorded its proof already)
    const send = (waf, k) => retried(() => post(waf, '/token', form, { dpop: proof(k, { htm: 'POST', htu, nonce }) }));
    const shareFull = (r) => r.status === 400 && r.json?.error === 'invalid_dpop_proof' &&
      /too many recent DPoP proofs with this key/.test(r.json.error_description);
    let accepted = 0;
    for (let i = 0; i < 200; i++) {
      const r = await send(i % 2 ? b : a, key); // both replicas fill the one share
      if (shareFull(r)) break;
      assert.equal(r.json?.error, 'invalid_grant', `proof ${i + 1}: ${r.status} ${r.text}`);
      accepted++;
    }
    // 128 unless a request answered 503 had recorded its proof (the rows below are exact)
    assert.ok(accepted > 100 && accepted <= 128, `proofs of one key before its share was full: ${accepted}`);
    for (const waf of [a, b]) assert.ok(shareFull(await send(waf, key)), 'refused at either replica');
    // another key is not held back, and a replay of its proof is still told as a replay
    const other = dpopKey();
    const pr = proof(other, { htm: 'POST', htu, nonce });
    assert.equal((await post(a, '/token', form, { dpop: pr })).json?.error, 'invalid_grant');
    assert.match((await post(b, '/token', form, { dpop: pr })).json?.error_description ?? '', /already used \(jti\)/);
    const url = a.args[a.args.indexOf('--database') + 1];
    const jkt = crypto.createHash('sha256').update(key.jkt).digest('hex');
    const rows = Number(execFileSync('psql', [url, '-Atc', `SELECT count(*) FROM dpop_jtis WHERE jkt = '${jkt}'`],
      { encoding: 'utf8' }).trim());
    assert.equal(rows, 128, 'rows of the full key');
  });

test('killing one replica: sign-in and refresh go on at the other', { skip: !onPostgres }, async () => {
  const t = await wicTokens(a, 'carol');
  assert.equal(t.status, 200, t.text);
  a.proc.kill('SIGKILL');
  await a.exited;
  const r = await refresh(b, t.json.refresh_token);
  assert.equal(r.status, 200, r.text);
  const again = await wicTokens(b, 'carol');
  assert.equal(again.status, 200, again.text);
  assert.equal((await introspect(b, a, again.json.access_token)).json.active, true);
});
