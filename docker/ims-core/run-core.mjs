// The compose profile ims-core: the same real IMS core the tests run (tests/ims-core: Kamailio
// I-CSCF and S-CSCF from Debian's example configs, patched by gen-configs.sh, and the Node.js
// HSS), in one container, on the container's own address: I-CSCF :4060, S-CSCF :6060 (UDP),
// HSS :3868 on loopback. Environment:
//   IMSGW_CORE_MODE     tna (default: the S-CSCF trusts the gateway's auth-done REGISTER) or digest
//   IMSGW_GATEWAY_HOST  the gateway's name (tna: the only address the I-CSCF takes auth-done from)
//   IMSGW_CORE_USERS    "user[:password] …" subscribers of ims.test (default: alice bob, the demo)
// Runs as root inside its container: it writes the Diameter names into /etc/hosts (no DNS).
import dns from 'node:dns/promises';
import fs from 'node:fs';
import os from 'node:os';
import { startCore, DOMAIN } from './core.mjs';

const mode = process.env.IMSGW_CORE_MODE || 'tna';
const ip = Object.values(os.networkInterfaces()).flat().find((a) => a.family === 'IPv4' && !a.internal)?.address;
if (!ip || !['tna', 'digest'].includes(mode)) {
  console.error(`ims-core: ${ip ? `IMSGW_CORE_MODE must be tna or digest, not "${mode}"` : 'no IPv4 address'}`);
  process.exit(2);
}
let gwIp = '127.0.0.1';
if (process.env.IMSGW_GATEWAY_HOST) { // bounded: the gateway's container may start after this one
  for (let i = 0; ; i++) {
    try { gwIp = (await dns.lookup(process.env.IMSGW_GATEWAY_HOST, { family: 4 })).address; break; } catch (e) {
      if (i >= 120) { console.error(`ims-core: no address for ${process.env.IMSGW_GATEWAY_HOST}: ${e.code}`); process.exit(1); }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
fs.appendFileSync('/etc/hosts', `127.0.0.1 hss.${DOMAIN}\n${ip} icscf.${DOMAIN} scscf.${DOMAIN}\n`);
const subscribers = (process.env.IMSGW_CORE_USERS || 'alice bob').split(/\s+/).filter(Boolean).map((u) => {
  const [name, password] = u.split(':');
  return { impi: `${name}@${DOMAIN}`, impu: `sip:${name}@${DOMAIN}`, ...(password && { password }) };
});
const core = await startCore({ mode, gwIp, subscribers, icscfIp: ip, scscfIp: ip, echo: true });
console.log(`ims-core: ready (${mode}): I-CSCF sip:${ip}:4060, S-CSCF sip:${ip}:6060, ` +
  `${subscribers.length} subscriber(s), trusted gateway ${gwIp}`);
let stopping = false;
const stop = async (code) => {
  if (stopping) return;
  stopping = true;
  await core.stop();
  process.exit(code);
};
process.on('SIGTERM', () => stop(0));
process.on('SIGINT', () => stop(0));
for (const p of core.procs) // a core missing a CSCF is no core: exit, and let compose restart it
  p.proc.on('exit', () => { console.error(`ims-core: ${p.role} exited`); stop(1); });
