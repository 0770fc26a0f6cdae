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
export function wwsfCopy(extraConfig) {
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
export async function startWicStack({ config = {}, wafArgs = [], gatewayArgs = [], stubArgs = [], nativeUsers = [], users } = {}) {
  // Reconnect quickly in tests; the RFC 5626 schedule is the same, only the base is shorter.
  const wwsf = wwsfCopy({ reconnectBaseSeconds: 2, ...config });
  const stack = await startStack({
    wafArgs,
    stubArgs,
    nativeUsers,
    ...(users ? { users } : {}),
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
export async function openPage(browser, name, { permissions = ['microphone'] } = {}) {
  const context = await browser.newContext({ viewport: { width: 420, height: 860 } });
  await context.grantPermissions(permissions);
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

/** Waits (bounded) until both pages receive audio; returns their inbound packet counts. */
export async function audioBothWays(a, b, ms = 10000) {
  const until = Date.now() + ms;
  let [na, nb] = [0, 0];
  while ((na <= 0 || nb <= 0) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 250));
    [na, nb] = [await inboundAudioPackets(a), await inboundAudioPackets(b)];
  }
  return [na, nb];
}

/** Saves docs/screenshot-<name>.png: the screens in the docs are redrawn by every run. */
export async function docShot(page, name) {
  await page.screenshot({ path: path.join(ROOT, 'docs', `screenshot-${name}.png`), fullPage: true });
}

const AXE = path.join(ROOT, 'node_modules', 'axe-core', 'axe.min.js');
/** Runs axe-core (WCAG 2.x A/AA rules) in the page; fails on any serious or critical violation.
 * page.evaluate runs outside the page's CSP, so the script needs no CSP exception. */
export async function expectAccessible(page, screen) {
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(fs.readFileSync(AXE, 'utf8'));
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
  });
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) throw new Error(`${page.testName} ${screen}: axe found ${JSON.stringify(bad, null, 1)}`);
  return violations;
}

/** The IMS stub's test hook (as tests/integration/regevent.test.mjs): the core de-registers
 * `aor` and NOTIFYs the gateway's reg-event subscription. */
export async function stubDeregister(port, aor) {
  const dgram = await import('node:dgram');
  const sock = dgram.createSocket('udp4');
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  const text = [`OPTIONS sip:127.0.0.1:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${sock.address().port};rport;branch=z9hG4bK-admin-${Date.now()}`,
    'Max-Forwards: 70', 'From: <sip:admin@127.0.0.1>;tag=adm', `To: <sip:127.0.0.1:${port}>`,
    `Call-ID: admin-${Date.now()}`, 'CSeq: 1 OPTIONS', `X-Stub-Deregister: ${aor}`, 'Content-Length: 0', '', ''].join('\r\n');
  const reply = new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('stub did not answer the de-registration hook')), 3000);
    sock.on('message', (m) => { clearTimeout(t); resolve(m.toString()); });
  });
  sock.send(text, port, '127.0.0.1');
  try { return await reply; } finally { sock.close(); }
}

/** A 16-bit mono 48 kHz WAV of a steady tone (Chromium loops it as the fake microphone). */
export function writeToneWav(file, seconds = 2, hz = 1000, rate = 48000) {
  const n = seconds * rate;
  const buf = Buffer.alloc(44 + 2 * n);
  buf.write('RIFF', 0); buf.writeUInt32LE(36 + 2 * n, 4); buf.write('WAVE', 8);
  buf.write('fmt ', 12); buf.writeUInt32LE(16, 16); buf.writeUInt16LE(1, 20); buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(rate, 24); buf.writeUInt32LE(2 * rate, 28); buf.writeUInt16LE(2, 32); buf.writeUInt16LE(16, 34);
  buf.write('data', 36); buf.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) buf.writeInt16LE(Math.round(16000 * Math.sin((2 * Math.PI * hz * i) / rate)), 44 + 2 * i);
  fs.writeFileSync(file, buf);
}

/** Received audio energy of the page's newest connection: { energy (totalAudioEnergy), level }. */
export function inboundAudio(page) {
  return page.evaluate(async () => {
    const pc = window.__pcs[window.__pcs.length - 1];
    const out = { energy: 0, level: 0, packets: 0 };
    if (!pc) return out;
    (await pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'audio') {
        out.energy += r.totalAudioEnergy || 0;
        out.level = Math.max(out.level, r.audioLevel || 0);
        out.packets += r.packetsReceived;
      }
    });
    return out;
  });
}

/** The a= direction of each m-line in the page's newest connection's SDP (local and remote). */
export function sdpDirections(page) {
  return page.evaluate(() => {
    const pc = window.__pcs[window.__pcs.length - 1];
    const dirs = (sdp) => (sdp || '').split(/\r\n(?=m=)/).slice(1)
      .map((m) => `${m.slice(2, m.indexOf(' '))}:${(/^a=(sendrecv|sendonly|recvonly|inactive)$/m.exec(m) || [, 'sendrecv'])[1]}`);
    return { local: dirs(pc?.localDescription?.sdp), remote: dirs(pc?.remoteDescription?.sdp) };
  });
}
