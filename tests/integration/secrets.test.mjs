// Issue 9: secret files (docs/faults.md). A daemon whose secret file is missing, a symlink, owned
// by another user, or open to group or others refuses to start with one line saying why; the
// files the WAF's CLI writes are 0600.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bin, freePort } from './harness.mjs';

let dir, wafArgs;
const run = (name, args) => spawnSync(bin(name), args, { encoding: 'utf8', timeout: 20000 });
const mode = (file) => fs.statSync(file).mode & 0o777;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imsgw-secrets-'));
  wafArgs = ['--data-dir', path.join(dir, 'waf'), '--argon2-t-cost', '1', '--argon2-m-cost-kib', '1024'];
  execFileSync(bin('imsgw-waf'), [...wafArgs, 'client', 'add', 'gateway', '--confidential',
    '--redirect-uri', 'http://127.0.0.1:8080/cb', '--secret-file', path.join(dir, 'secret')]);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Exit status and the one stderr line of a daemon that must refuse to start. */
function refused(name, args) {
  const r = run(name, args);
  assert.notEqual(r.status, 0, `${name} started: ${r.stderr}`);
  assert.equal(r.signal, null);
  // info lines of a first start (schema migrated) may come before; the reason is one line
  const lines = r.stderr.trim().split('\n').filter((l) => !/^\S+Z \S+ info: /.test(l));
  assert.equal(lines.length, 1, `one line: ${r.stderr}`);
  return lines[0];
}

async function gatewayWith(secretFile) {
  return refused('imsgw-gateway', ['--workers', '1', '--port', String(await freePort()),
    '--sip-listen', `sip:127.0.0.1:${await freePort()}`, '--waf-client-secret-file', secretFile]);
}

test('the CLI writes the database and the client secret 0600', () => {
  assert.equal(mode(path.join(dir, 'secret')), 0o600);
  assert.equal(mode(path.join(dir, 'waf', 'waf.sqlite')), 0o600);
});

test('gateway: waf-client-secret-file missing', async () => {
  const line = await gatewayWith(path.join(dir, 'nope'));
  assert.match(line, /^imsgw-gateway: waf-client-secret-file \S+nope: No such file or directory$/);
});

test('gateway: waf-client-secret-file readable by group, or writable by others', async () => {
  const f = path.join(dir, 'secret-open');
  fs.copyFileSync(path.join(dir, 'secret'), f);
  for (const m of [0o640, 0o602, 0o644]) {
    fs.chmodSync(f, m);
    const line = await gatewayWith(f);
    assert.match(line, new RegExp(`waf-client-secret-file \\S+: readable or writable by group or others \\(mode 0${m.toString(8)}\\); run chmod 600 on it$`));
  }
});

test('gateway: waf-client-secret-file that is a symlink or owned by another user', async (t) => {
  const link = path.join(dir, 'secret-link');
  fs.symlinkSync(path.join(dir, 'secret'), link);
  assert.match(await gatewayWith(link), /waf-client-secret-file \S+: Too many levels of symbolic links$/);
  if (process.getuid() !== 0) return t.skip('chown needs root');
  const f = path.join(dir, 'secret-theirs');
  fs.copyFileSync(path.join(dir, 'secret'), f);
  fs.chownSync(f, 65534, 65534);
  assert.match(await gatewayWith(f), /waf-client-secret-file \S+: owned by uid 65534, not by this user \(uid 0\); chown it$/);
});

test('WAF: a database (it holds the signing keys) or its WAL open to group or others', async () => {
  const db = path.join(dir, 'waf', 'waf.sqlite');
  fs.chmodSync(db, 0o644);
  const line = refused('imsgw-waf', [...wafArgs, '--port', String(await freePort())]);
  assert.match(line, /^imsgw-waf: database \S+waf\.sqlite: readable or writable by group or others \(mode 0644\); run chmod 600 on it$/);
  // the CLI, which reads the same keys, refuses too
  assert.match(refused('imsgw-waf', [...wafArgs, 'client', 'list']), /mode 0644/);
  fs.chmodSync(db, 0o600);
  fs.writeFileSync(`${db}-wal`, '', { mode: 0o604 });
  assert.match(refused('imsgw-waf', [...wafArgs, '--port', String(await freePort())]), /waf\.sqlite-wal: readable or writable by group or others \(mode 0604\)/);
  fs.rmSync(`${db}-wal`);
  assert.equal(run('imsgw-waf', [...wafArgs, 'client', 'list']).status, 0, 'fixed modes: accepted again');
});

test('WAF: an old signing-key file to import, open to group', async () => {
  const data = path.join(dir, 'waf-legacy');
  fs.mkdirSync(data, { mode: 0o700 });
  const pem = execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout'], { encoding: 'utf8' });
  fs.writeFileSync(path.join(data, 'signing-key.pem'), pem, { mode: 0o640 });
  fs.chmodSync(path.join(data, 'signing-key.pem'), 0o640);
  const line = refused('imsgw-waf', ['--data-dir', data, '--port', String(await freePort())]);
  assert.match(line, /^imsgw-waf: signing key \S+signing-key\.pem: readable or writable by group or others \(mode 0640\); run chmod 600 on it$/);
});
