// Issue 9, faults in the WAF's store (docs/faults.md): the database locked by another process, and
// the disk full (a file-size limit on the running WAF: writes fail with EFBIG, as on a full
// disk). The token endpoint answers 503 + Retry-After within a bounded wait, the loop keeps
// serving, and a refresh that failed leaves the old refresh token valid (rotation all or nothing).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import path from 'node:path';
import { sleep } from './harness.mjs';
import { startWaf, post, wicTokens } from './waf-helpers.mjs';

const LOOP_WAIT_MS = 250; // WAF_STORE_LOOP_WAIT_MS
const SLACK_MS = 1500; // a busy, shared 2-core machine; the old 2 s wait still exceeds the bound

let waf;
before(async () => { waf = await startWaf(); });
after(async () => {
  const r = await waf.stop();
  assert.deepEqual(r, { code: 0, sig: null }, `the WAF must exit 0 on SIGTERM:\n${waf.log.slice(-2000)}`);
});

const refresh = async (rt) => {
  const t0 = Date.now();
  const r = await post(waf, '/token', { grant_type: 'refresh_token', refresh_token: rt, client_id: 'wic' });
  return { ...r, ms: Date.now() - t0 };
};

/** Another process holding the database's write lock (sqlite3 CLI, BEGIN EXCLUSIVE) until
 * release(); it gives up by itself after 30 s. */
async function holdLock() {
  const db = path.join(waf.dir, 'waf', 'waf.sqlite');
  const p = spawn('timeout', ['30', 'sqlite3', db], { stdio: ['pipe', 'pipe', 'inherit'] });
  p.stdin.write('.timeout 5000\nBEGIN EXCLUSIVE;\n.print locked\n');
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no lock within 5 s')), 5000);
    p.stdout.on('data', (d) => { if (/locked/.test(d)) { clearTimeout(t); resolve(); } });
  });
  return () => new Promise((resolve) => { p.on('exit', resolve); p.stdin.end('ROLLBACK;\n'); });
}

test('database locked by another process: 503 + Retry-After in bounded time, the loop serves on, no rotation lost', async () => {
  const t = await wicTokens(waf);
  assert.equal(t.status, 200, t.text);
  const release = await holdLock();
  try {
    const healthz = (async () => { await sleep(20); const t0 = Date.now(); const r = await fetch(`${waf.issuer}/healthz`); return { ok: r.ok, ms: Date.now() - t0 }; })();
    const r = await refresh(t.json.refresh_token);
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.error, 'temporarily_unavailable');
    assert.match(r.json.error_description, /busy/);
    assert.equal(r.res.headers.get('retry-after'), '1');
    assert.ok(r.ms <= LOOP_WAIT_MS + SLACK_MS, `answered in ${r.ms} ms`);
    const h = await healthz;
    assert.ok(h.ok && h.ms <= LOOP_WAIT_MS + SLACK_MS, `healthz in ${h.ms} ms`);
    // while the lock stays, further writers fail at once instead of each stalling the loop
    const again = await refresh(t.json.refresh_token);
    assert.equal(again.status, 503);
    assert.ok(again.ms <= SLACK_MS, `second refusal in ${again.ms} ms`);
  } finally {
    await release();
  }
  await sleep(1100); // past the fail-fast window
  const r1 = await refresh(t.json.refresh_token);
  assert.equal(r1.status, 200, `the refused refresh token is still valid: ${r1.text}`);
  const r2 = await refresh(r1.json.refresh_token);
  assert.equal(r2.status, 200, r2.text);
  const old = await refresh(t.json.refresh_token);
  assert.equal(old.json.error, 'invalid_grant', 'the successful rotation was committed');
});

test('disk full (file-size limit): 503 + Retry-After, the WAF lives on, the old refresh token stays valid', async () => {
  const t = await wicTokens(waf, 'bob');
  assert.equal(t.status, 200, t.text);
  const pid = String(waf.proc.pid);
  execFileSync('prlimit', ['--pid', pid, '--fsize=1:']);
  try {
    const r = await refresh(t.json.refresh_token);
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.error, 'temporarily_unavailable');
    assert.match(r.json.error_description, /cannot write/);
    assert.equal(r.res.headers.get('retry-after'), '30');
    assert.equal(waf.proc.exitCode, null, 'the WAF is still running');
    assert.equal(waf.proc.signalCode, null, 'not killed by SIGXFSZ');
    assert.ok((await fetch(`${waf.issuer}/healthz`)).ok);
    assert.match(waf.log, /store unavailable \(cannot write/);
  } finally {
    execFileSync('prlimit', ['--pid', pid, '--fsize=unlimited:']);
  }
  const r1 = await refresh(t.json.refresh_token);
  assert.equal(r1.status, 200, `nothing half-applied: the old refresh token works: ${r1.text}`);
  const old = await refresh(t.json.refresh_token);
  assert.equal(old.json.error, 'invalid_grant');
  const r2 = await refresh(r1.json.refresh_token);
  assert.equal(r2.status, 400, 'reuse of the old token revoked the family (store writes again)');
});
