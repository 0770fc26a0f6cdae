// Helpers for the WAF suite: a WAF alone on a free port with demo users and clients, a browser-like
// sign-in (cookie + CSRF field), PKCE pairs and form POSTs. Every wait is bounded.
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bin, freePort, sleep, testDatabaseArgs } from './harness.mjs';

export const WIC_REDIRECT = 'http://127.0.0.1:8080/';

export async function startWaf(extraArgs = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imsgw-waf-it-'));
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const args = ['--data-dir', path.join(dir, 'waf'), '--port', String(port), '--issuer', issuer,
    '--argon2-t-cost', '1', '--argon2-m-cost-kib', '1024', '--login-max-failures-user', '3',
    ...testDatabaseArgs(), ...extraArgs];
  const waf = { dir, port, issuer, args, passwords: {}, log: '' };
  waf.cli = (cliArgs, input) => execFileSync(bin('imsgw-waf'), [...args, ...cliArgs], {
    input, encoding: 'utf8', timeout: 30000, stdio: ['pipe', 'pipe', 'pipe'] });
  for (const u of ['alice', 'bob', 'carol']) {
    waf.passwords[u] = `pw-${u}-0123456789`;
    waf.cli(['user', 'add', u, '--impu', `sip:${u}@ims.test`, '--password-stdin'], `${waf.passwords[u]}\n`);
  }
  waf.cli(['client', 'add', 'wic', '--public', '--redirect-uri', WIC_REDIRECT,
    '--redirect-uri', 'http://localhost:8080/']);
  waf.secretFile = path.join(dir, 'gateway-secret');
  waf.cli(['client', 'add', 'gateway', '--confidential', '--redirect-uri', 'http://127.0.0.1:8080/cb',
    '--secret-file', waf.secretFile]);
  waf.secret = fs.readFileSync(waf.secretFile, 'utf8').trim();
  waf.opaqueSecret = waf.cli(['client', 'add', 'portal', '--confidential', '--token-format', 'opaque',
    '--redirect-uri', 'https://portal.example/cb']).trim().split(' ').pop();
  // The port was free when chosen, but the provisioning above takes seconds, and on a shared
  // machine an outgoing connection can take it meanwhile (seen in `make bench` after the
  // 50,000-connection run): a WAF that cannot listen is started again on another port.
  for (let attempt = 1; ; attempt++) {
    waf.proc = spawn(bin('imsgw-waf'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    waf.proc.stderr.on('data', (d) => { waf.log += d; });
    waf.exited = new Promise((resolve) => waf.proc.on('exit', (code, sig) => resolve({ code, sig })));
    const until = Date.now() + 10000;
    while (!(await fetch(`${waf.issuer}/healthz`).catch(() => null))?.ok) {
      if (waf.proc.exitCode !== null && /cannot listen on/.test(waf.log) && attempt < 3) break;
      if (Date.now() > until) throw new Error(`the WAF did not start: ${waf.log.slice(-500)}`);
      await sleep(50);
    }
    if (waf.proc.exitCode === null) break;
    waf.port = await freePort();
    waf.issuer = `http://127.0.0.1:${waf.port}`;
    args[args.indexOf('--port') + 1] = String(waf.port);
    args[args.indexOf('--issuer') + 1] = waf.issuer;
  }
  waf.stop = async () => {
    if (waf.proc.exitCode === null) waf.proc.kill('SIGTERM');
    const t = setTimeout(() => waf.proc.kill('SIGKILL'), 10000);
    const r = await waf.exited;
    clearTimeout(t);
    fs.rmSync(dir, { recursive: true, force: true });
    return r;
  };
  return waf;
}

export function pkce() {
  const verifier = crypto.randomBytes(32).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

export const basic = (id, secret) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

export async function post(waf, p, form, headers = {}) {
  const body = typeof form === 'string' ? form : new URLSearchParams(form).toString();
  const res = await fetch(`${waf.issuer}${p}`, {
    method: 'POST', body, redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { res, status: res.status, text, json };
}

/** GETs a sign-in page: returns the cookie and the form's hidden fields. */
export async function openForm(waf, p) {
  const res = await fetch(`${waf.issuer}${p}`, { redirect: 'manual' });
  const html = await res.text();
  const cookie = (res.headers.get('set-cookie') || '').split(';')[0];
  const hidden = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
    hidden[m[1]] = m[2].replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>').replace(/&#39;/g, "'");
  return { res, html, cookie, hidden };
}

/** Signs in at path (a page with a form); returns the POST's response. */
export async function signIn(waf, p, user, password, extra = {}) {
  const f = await openForm(waf, p);
  const action = p.split('?')[0];
  const r = await post(waf, action, { ...f.hidden, username: user, password, ...extra }, { cookie: f.cookie });
  return { ...r, form: f };
}

export function authorizeUrl(params) {
  return `/authorize?${new URLSearchParams({ response_type: 'code', client_id: 'wic',
    redirect_uri: WIC_REDIRECT, scope: 'ims:register ims:call ims:message', ...params })}`;
}

/** The whole browser flow for the WIC: returns the token response. */
export async function wicTokens(waf, user = 'alice') {
  const { verifier, challenge } = pkce();
  const r = await signIn(waf, authorizeUrl({ code_challenge: challenge, code_challenge_method: 'S256', state: 's1' }),
    user, waf.passwords[user]);
  if (r.status !== 303) throw new Error(`sign-in failed: ${r.status} ${r.text.slice(0, 200)}`);
  const loc = new URL(r.res.headers.get('location'));
  const code = loc.searchParams.get('code');
  const t = await post(waf, '/token', { grant_type: 'authorization_code', code, client_id: 'wic',
    redirect_uri: WIC_REDIRECT, code_verifier: verifier });
  return { ...t, code, verifier, location: loc };
}
