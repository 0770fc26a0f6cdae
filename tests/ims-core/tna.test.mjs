// Issue 11, against a real core (Kamailio 5.6 I-CSCF + S-CSCF + test HSS) whose S-CSCF accepts the
// gateway's trusted-node REGISTER: two WebSocket users register, exchange a MESSAGE, call each
// other both ways and de-register; the core de-registers one by RTR → reg-event NOTIFY.
// Run through tests/ims-core/in-netns.sh (see tests/CMakeLists.txt).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, sleep } from '../integration/harness.mjs';
import { Ua, SDP } from '../integration/sipua.mjs';
import { startCore, coreUnavailable, ICSCF, SCSCF_HOST } from './core.mjs';

const skip = coreUnavailable() || false;
let core, stack;
before(async () => {
  if (skip) return;
  core = await startCore({ mode: 'tna', subscribers: ['alice', 'bob'].map((u) => ({ impi: `${u}@ims.test`, impu: `sip:${u}@ims.test` })) });
  // next-hop is the I-CSCF; ims-peers is left to its default (the S-CSCF is learnt at registration)
  stack = await startStack({ gatewayArgs: ['--next-hop', ICSCF] });
});
after(async () => {
  if (skip) return;
  const r = stack && await stack.stop();
  const c = core && await core.stop();
  if (process.env.IMSGW_CORE_LOG) console.log(core.log());
  if (r) assert.equal(r['imsgw-gateway'].code, 0);
  if (c) for (const [role, e] of Object.entries(c)) assert.ok(e.code === 0 || e.sig === 'SIGTERM', `${role} ${JSON.stringify(e)}`);
});

const coreLog = () => core.log().slice(-6000);

test('TNA: registration through I-CSCF and S-CSCF gives the core Service-Route and P-Associated-URI', { skip }, async () => {
  const alice = await Ua.register(stack, 'alice').catch((e) => { throw new Error(`${e.message}\n${coreLog()}\n${stack.gateway.log.slice(-3000)}`); });
  assert.deepEqual(alice.serviceRoute, [`<sip:orig@${SCSCF_HOST}:6060;lr>`]);
  alice.close();
});
