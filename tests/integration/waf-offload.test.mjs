// The WAF's event loop never waits on its store (issue 15): /token, /introspect, /revoke,
// /ims-digest, /device_authorization and the sign-in pages run on the store threads, so while the database is held by someone else /healthz
// and /jwks keep answering at once, the store-bound requests answer 503 + Retry-After after the
// bounded lock wait, and a full queue is refused at once. On SQLite (the default) the write lock
// is held by the sqlite3 tool; under tests/pg/with-pg.sh by psql holding LOCK TABLE clients.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { startWaf, basic, authorizeUrl, pkce } from './waf-helpers.mjs';
import { sleep } from './harness.mjs';

const wafs = [];
after(async () => {
  for (const w of wafs) assert.deepEqual(await w.stop(), { code: 0, sig: null });
});

/** One request on its own connection (no agent pool: all of them are in flight at once). */
function request(waf, method, p, body = null, headers = {}) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    if (body !== null) {
      h['content-type'] = 'application/x-www-form-urlencoded';
      h['content-length'] = Buffer.byteLength(body);
    }
    const t0 = Date.now();
    const req = http.request({ host: '127.0.0.1', port: waf.port, method, path: p, headers: h, agent: false }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, json, ms: Date.now() - t0 });
      });
    });
    req.on('error', reject);
    req.setTimeout(20000, () => req.destroy(new Error('timeout')));
    req.end(body ?? undefined);
  });
}

const tokenRequest = (waf) => request(waf, 'POST', '/token', 'grant_type=client_credentials',
  { authorization: basic('gateway', waf.secret) });

/** Holds the store's lock from another process until release() is awaited. */
async function holdStore(waf) {
  const pgHost = process.env.IMSGW_TEST_PG_HOST;
  let proc;
  let locked;
  if (pgHost) {
    const db = new URL(waf.args[waf.args.indexOf('--database') + 1]).pathname.slice(1);
    const psql = ['-h', pgHost, '-U', 'imsgw', '-d', db, '-qAt'];
    proc = spawn('psql', psql, { stdio: ['pipe', 'ignore', 'inherit'] });
    proc.stdin.write('BEGIN;\nLOCK TABLE clients IN ACCESS EXCLUSIVE MODE;\n');
    locked = () => execFileSync('psql', [...psql, '-c',
      "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation = 'clients'::regclass"],
    { encoding: 'utf8', timeout: 10000 }).trim() === '1';
  } else {
    const file = path.join(waf.dir, 'waf', 'waf.sqlite');
    proc = spawn('sqlite3', [file], { stdio: ['pipe', 'ignore', 'inherit'] });
    // Waits (busy timeout) while the WAF finishes a write of its own: without it the CLI's BEGIN
    // failed at once with "database is locked" now and then (an ASan CI run) and held nothing.
    proc.stdin.write('.timeout 5000\nBEGIN EXCLUSIVE;\n');
    locked = () => {
      try {
        execFileSync('sqlite3', ['-cmd', '.timeout 0', file, 'BEGIN IMMEDIATE; ROLLBACK;'],
          { timeout: 10000, stdio: 'pipe' });
        return false;
      } catch { return true; }
    };
  }
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  const until = Date.now() + 10000;
  while (!locked()) {
    if (Date.now() >= until) {
      proc.kill('SIGKILL'); // nothing left waiting on its stdin: the suite ends instead of hanging
      assert.fail('the store lock was never taken');
    }
    await sleep(50);
  }
  return async () => {
    proc.stdin.end('ROLLBACK;\n');
    const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
    await exited;
    clearTimeout(t);
  };
}

test('while the store is held, /healthz and /jwks.json answer at once and /token answers 503 after the bounded wait', async () => {
  const waf = await startWaf(['--database-connections', '2']);
  wafs.push(waf);
  assert.equal((await tokenRequest(waf)).status, 200);
  const release = await holdStore(waf);
  try {
    // For 4 s, two grants and a sign-in page every 100 ms: each grant holds a store thread for
    // up to the lock wait (250 ms). An event loop doing the store's work itself stops answering
    // for that wait, again and again (on SQLite once per second, after its fail-fast window).
    const url = authorizeUrl({ code_challenge: pkce().challenge, code_challenge_method: 'S256' });
    const grants = [];
    const pages = [];
    const until = Date.now() + 4000;
    const feeder = (async () => {
      while (Date.now() < until) {
        grants.push(tokenRequest(waf), tokenRequest(waf));
        pages.push(request(waf, 'GET', url)); // reads clients: held on PostgreSQL, not on SQLite
        await sleep(100);
      }
    })();
    const probes = [];
    while (Date.now() < until) {
      probes.push(await request(waf, 'GET', '/healthz'), await request(waf, 'GET', '/jwks.json'));
      await sleep(20);
    }
    await feeder;
    const answers = await Promise.all(grants);
    for (const p of await Promise.all(pages)) assert.ok([200, 503].includes(p.status), `sign-in page: ${p.status}`);
    for (const p of probes) assert.equal(p.status, 200);
    // a loaded test host may delay one probe; a loop that waits on the store delays several
    const slow = probes.filter((p) => p.ms >= 200).map((p) => p.ms);
    assert.ok(probes.length >= 20, `only ${probes.length} probes in 4 s`);
    assert.ok(slow.length <= 2, `the loop stalled: ${slow.length} of ${probes.length} probes took ${slow.join(', ')} ms`);
    for (const a of answers) {
      assert.equal(a.status, 503, JSON.stringify(a.json));
      assert.equal(a.json.error, 'temporarily_unavailable');
      assert.ok(Number(a.headers['retry-after']) >= 1);
    }
  } finally {
    await release();
  }
  assert.equal((await tokenRequest(waf)).status, 200, 'the store serves again once released');
});

test('a full store queue is refused at once with 503 and Retry-After, and the WAF recovers', async () => {
  const waf = await startWaf(['--database-connections', '1']);
  wafs.push(waf);
  const release = await holdStore(waf);
  let answers;
  try {
    // one store thread, up to 250 ms a request: the queue (64) fills, the rest is refused at once
    answers = await Promise.all(Array.from({ length: 100 }, () => tokenRequest(waf)));
  } finally {
    await release();
  }
  const full = answers.filter((a) => /too many requests/.test(a.json?.error_description ?? ''));
  assert.ok(full.length >= 1, `only ${full.length} refused as queue-full`);
  for (const a of answers) {
    assert.equal(a.status, 503);
    assert.ok(Number(a.headers['retry-after']) >= 1);
  }
  assert.ok(Math.min(...full.map((a) => a.ms)) < 1000, 'queue-full answers are immediate');
  const introspect = await request(waf, 'POST', '/introspect', 'token=nonsense',
    { authorization: basic('gateway', waf.secret) });
  assert.equal(introspect.status, 200);
  assert.equal(introspect.json.active, false);
  assert.equal((await tokenRequest(waf)).status, 200);
});
