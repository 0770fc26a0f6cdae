// Brings up a real IMS core for the tests: Kamailio I-CSCF (127.0.0.2:4060) and S-CSCF
// (127.0.0.3:6060) with configs generated from Debian's examples (gen-configs.sh), and the test
// HSS (hss.mjs) on 127.0.0.1:3868. Must run inside in-netns.sh (private loopback and /etc/hosts).
// Every process is started here and stopped by its PID; every wait is bounded.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHss } from './hss.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const DOMAIN = 'ims.test';
export const ICSCF = 'sip:127.0.0.2:4060';
export const SCSCF_HOST = 'scscf.ims.test'; // its Diameter identity
export const SCSCF_URI = 'sip:127.0.0.3:6060';

/** Why the real-core tests cannot run here, or null. */
export function coreUnavailable() {
  if (!fs.existsSync('/usr/sbin/kamailio')) return 'kamailio is not installed (scripts/deps.sh installs it)';
  if (!fs.readFileSync('/etc/hosts', 'utf8').includes(SCSCF_HOST)) return 'not inside tests/ims-core/in-netns.sh';
  return null;
}

class Kamailio {
  constructor(role, cfg, echo) {
    this.role = role;
    this.log = '';
    this.proc = spawn('/usr/sbin/kamailio', ['-DD', '-E', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d) => {
      this.log = (this.log + d).slice(-200000);
      if (echo) process.stdout.write(d);
    };
    this.proc.stdout.on('data', keep);
    this.proc.stderr.on('data', keep);
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, sig) => resolve({ code, sig })));
  }
  /** Resolves to { running } : whether it was still running when asked to stop (Kamailio 5.6 may
   * crash in its own shutdown, which says nothing about the test). */
  async stop() {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return { running: false, ...(await this.exited) };
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    const r = await this.exited;
    clearTimeout(t);
    return { running: true, ...r };
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * mode 'tna' (S-CSCF accepts the gateway's auth-done REGISTER) or 'digest' (stock: MD5 challenge).
 * subscribers: [{ impi, impu, password? }] for the HSS. icscfIp/scscfIp: other addresses than
 * the tests' 127.0.0.2/.3 (the compose profile ims-core); echo: Kamailio's log to stdout too.
 */
export async function startCore({ mode, gwIp = '127.0.0.1', subscribers, icscfIp, scscfIp, echo = false }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imsgw-core-'));
  const env = { ...process.env, ...(icscfIp && { ICSCF_IP: icscfIp }), ...(scscfIp && { SCSCF_IP: scscfIp }) };
  execFileSync(path.join(HERE, 'gen-configs.sh'), [dir, mode, gwIp], { stdio: 'inherit', timeout: 10000, env });
  const hss = await startHss({ port: 3868, realm: DOMAIN, host: `hss.${DOMAIN}`,
    scscfName: scscfIp ? `sip:${scscfIp}:6060` : SCSCF_URI, subscribers });
  const procs = [new Kamailio('icscf', path.join(dir, 'icscf/kamailio.cfg'), echo),
    new Kamailio('scscf', path.join(dir, 'scscf/kamailio.cfg'), echo)];
  const core = {
    dir, hss, procs,
    log: () => procs.map((p) => `--- ${p.role}\n${p.log}`).join('\n'),
    async stop() {
      const r = {};
      for (const p of procs) r[p.role] = await p.stop();
      await hss.stop();
      fs.rmSync(dir, { recursive: true, force: true });
      return r;
    },
  };
  const until = Date.now() + 15000;
  while (!(hss.connected(`icscf.${DOMAIN}`) && hss.connected(SCSCF_HOST))) {
    const dead = procs.find((p) => p.proc.exitCode !== null || p.proc.signalCode !== null);
    if (dead || Date.now() > until) {
      const why = dead ? `${dead.role} exited` : 'no Diameter connection to the HSS within 15 s';
      const log = core.log();
      await core.stop();
      throw new Error(`IMS core did not start: ${why}\n${log.slice(-4000)}`);
    }
    await sleep(100);
  }
  await sleep(300); // the SIP workers come up with the Diameter peers; a little margin
  return core;
}
