// Issue 12: the core CANCELs an INVITE that the gateway still holds while the media relay
// rewrites its SDP (rtpengine stopped with SIGSTOP, within media-timeout). The CANCEL must end
// it: 487 to the INVITE, the browser never sees it, the relay keeps no session. A scripted
// S-CSCF (fake-scscf.mjs) sends the CANCEL at once; the IMS stub, like many proxies, would wait
// for a provisional response above 100 (RFC 3261 §9.1) and never race the relay.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startStack, sleep } from './harness.mjs';
import { Ua } from './sipua.mjs';
import { startFakeScscf } from './fake-scscf.mjs';
import { Rtpengine } from './rtpengine.mjs';

let stack, scscf, relay, alice;

const imsSdp = ['v=0', 'o=carol 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 4000 RTP/AVP 8',
  'a=rtpmap:8 PCMA/8000', 'a=sendrecv', ''].join('\r\n');
const waitResponse = async (pred, timeoutMs = 5000) => {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const m = scscf.responses.find(pred);
    if (m) return m;
    if (Date.now() > until) throw new Error(`no matching response from the gateway within ${timeoutMs} ms`);
    await sleep(20);
  }
};
const metric = async (name) => {
  const text = await (await fetch(`${stack.httpUrl}/metrics`)).text();
  return Number((new RegExp(`^${name} (\\S+)$`, 'm').exec(text) || [])[1]);
};

before(async () => {
  relay = await Rtpengine.start();
  scscf = await startFakeScscf({ onRequest: (m) => m.start.startsWith('ACK') });
  stack = await startStack({
    gatewayArgs: ['--next-hop', `sip:127.0.0.1:${scscf.port};transport=tcp`, '--media', 'rtpengine',
      '--media-relay', `127.0.0.1:${relay.ngPort}`, '--media-timeout', '1500'],
  });
  alice = await Ua.register(stack, 'alice');
});
after(async () => {
  relay.proc.kill('SIGCONT');
  if (process.env.IMSGW_DEBUG) console.log(stack.gateway.log, scscf.responses.map((m) => m.start));
  alice?.close();
  const results = await stack.stop();
  await scscf.stop();
  await relay.stop();
  assert.deepEqual(results['imsgw-gateway'], { code: 0, sig: null }, 'the gateway stops cleanly');
});

test('a CANCEL from the core while the INVITE waits for the relay: 487, nothing reaches the browser, no relay session', async () => {
  const reg = scscf.registers().at(-1);
  const contact = /<([^>]+)>/.exec(reg.headers.contact[0])[1];
  const path = reg.headers.path[0]; // the core routes to the flow along the gateway's Path
  const callId = `${crypto.randomBytes(6).toString('hex')}@core`;
  const branch = `z9hG4bK-${crypto.randomBytes(6).toString('hex')}`;
  const head = (method) => [`${method} ${contact} SIP/2.0`, `Via: SIP/2.0/TCP 127.0.0.1:${scscf.port};branch=${branch}`,
    'Max-Forwards: 70', '<sip:carol@ims.test>;tag=core'.replace(/^/, 'From: '), 'To: <sip:alice@ims.test>',
    `Call-ID: ${callId}`, `CSeq: 1 ${method}`, `Route: ${path}`];
  const ofCall = (status, method) => (m) => m.headers['call-id'][0] === callId && m.headers.cseq[0] === `1 ${method}` &&
    (status === null ? m.status >= 200 : m.status === status);
  relay.proc.kill('SIGSTOP');
  try {
    const sent = await metric('imsgw_media_relay_requests_total');
    scscf.send([...head('INVITE'), 'Contact: <sip:carol@127.0.0.1:5998;transport=tcp>',
      'P-Asserted-Identity: <sip:carol@ims.test>'], imsSdp);
    await waitResponse(ofCall(100, 'INVITE'), 3000);
    const until = Date.now() + 3000; // the offer is with the (stopped) relay
    while ((await metric('imsgw_media_relay_requests_total')) === sent && Date.now() < until) await sleep(20);
    scscf.send(head('CANCEL'));
    const c = await waitResponse(ofCall(null, 'CANCEL'), 3000);
    assert.equal(c.status, 200);
    relay.proc.kill('SIGCONT');
    const r = await waitResponse(ofCall(null, 'INVITE'), 5000);
    assert.equal(r.status, 487, `the INVITE ends with 487, not ${r.start}`);
    await relay.callsReach(0);
    await sleep(300); // nothing late either
    assert.ok(!alice.requests.some((m) => m.headers['call-id'][0] === callId), 'the browser never saw the INVITE');
    assert.equal(await metric('imsgw_media_sessions'), 0);
  } finally {
    relay.proc.kill('SIGCONT');
  }
});
