// Browser-test helpers: the real daemons (tests/integration/harness.mjs) serving a temp copy of
// wwsf-static with a config.json naming this stack's WAF, and Debian's Chromium driven by
// playwright-core (never a downloaded browser). Screenshots go to tests/artifacts/.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startStack } from '../integration/harness.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ARTIFACTS = path.join(ROOT, 'tests', 'artifacts');
export const CHROMIUM = process.env.IMSGW_CHROMIUM || '/usr/bin/chromium';

/** A copy of the web client whose config.json points at this stack (the page derives the rest). */
function wwsfCopy(extraConfig) {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-wic.mjs')], { stdio: 'inherit' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imsgw-wwsf-'));
  fs.cpSync(path.join(ROOT, 'wwsf-static'), dir, { recursive: true });
  return {
    dir,
    writeConfig(issuer) {
      const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
      Object.assign(cfg, { issuer, trustedAuthzServers: [issuer] }, extraConfig);
      fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg, null, 2));
    },
  };
}

/** The stack plus the web client: `config` overrides config.json keys (after issuer is set). */
export async function startWicStack({ config = {}, wafArgs = [], gatewayArgs = [], stubArgs = [], nativeUsers = [] } = {}) {
  // Reconnect quickly in tests; the RFC 5626 schedule is the same, only the base is shorter.
  const wwsf = wwsfCopy({ reconnectBaseSeconds: 2, ...config });
  const stack = await startStack({
    wafArgs,
    stubArgs,
    nativeUsers,
    gatewayArgs: (s) => ['--wwsf-dir', wwsf.dir, '--allowed-origins', s.httpUrl, ...gatewayArgs],
  });
  wwsf.writeConfig(stack.issuer);
  stack.wwsf = wwsf;
  const stop = stack.stop;
  stack.stop = async () => {
    const r = await stop();
    fs.rmSync(wwsf.dir, { recursive: true, force: true });
    return r;
  };
  return stack;
}

/** Chromium with a fake microphone (a beep, or the WAV file given); extraArgs are appended. */
export function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run',
      ...extraArgs],
  });
}

/** A fresh browser context (own cookies and storage) with one page; records RTCPeerConnections. */
export async function openPage(browser, name) {
  const context = await browser.newContext({ viewport: { width: 420, height: 860 } });
  await context.grantPermissions(['microphone']);
  const page = await context.newPage();
  page.log = [];
  page.on('console', (m) => page.log.push(`[${name}] ${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => page.log.push(`[${name}] pageerror: ${e.message}`));
  await page.addInitScript(() => {
    const Native = window.RTCPeerConnection;
    window.__pcs = [];
    window.RTCPeerConnection = class extends Native {
      constructor(...a) { super(...a); window.__pcs.push(this); }
    };
  });
  // Grants the page asks /token for, and its /revoke calls, in order (never the tokens).
  page.grants = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    // A DPoP proof without a nonce only fetches the WAF's nonce (it requires one): not a grant.
    const dpop = r.headers().dpop;
    const probe = dpop && !JSON.parse(Buffer.from(dpop.split('.')[1] || '', 'base64url').toString() || '{}').nonce;
    if (u.pathname === '/token' && r.method() === 'POST' && !probe) page.grants.push(new URLSearchParams(r.postData() || '').get('grant_type'));
    if (u.pathname === '/revoke' && r.method() === 'POST') page.grants.push('revoke');
  });
  page.testName = name;
  return page;
}

export const byId = (page, id) => page.getByTestId(id);

/** Saves tests/artifacts/<name>.png (never fails the test on its own). */
export async function shot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true }).catch(() => {});
}

/** Clicks "Sign in", fills the WAF form, and returns once back on the web client. */
export async function signIn(page, stack, user, password, { expectRegistered = true } = {}) {
  await page.goto(`${stack.httpUrl}/`);
  await byId(page, 'login').click();
  await page.waitForURL(`${stack.issuer}/**`);
  await page.fill('input[name="username"]', user);
  await page.fill('input[name="password"]', password);
  await page.click('button[type="submit"][value="allow"]');
  if (expectRegistered) await expectText(page, 'reg-status', /^Registered$/);
}

/** Waits (bounded) until the element's text matches. */
export async function expectText(page, testId, re, timeout = 10000) {
  const loc = typeof testId === 'string' ? byId(page, testId) : testId;
  try {
    await loc.filter({ hasText: re }).first().waitFor({ timeout });
  } catch (err) {
    const now = await loc.first().textContent().catch(() => '?');
    throw new Error(`${page.testName}: ${typeof testId === 'string' ? testId : 'element'} shows "${now}", expected ${re}\n${page.log.slice(-15).join('\n')}`);
  }
}

/** Inbound audio packets of the page's newest RTCPeerConnection. */
export function inboundAudioPackets(page) {
  return page.evaluate(async () => {
    const pc = window.__pcs[window.__pcs.length - 1];
    if (!pc) return -1;
    let n = 0;
    (await pc.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'audio') n += r.packetsReceived; });
    return n;
  });
}
