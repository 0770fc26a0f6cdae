// RFC 4475 torture messages against the WebSocket edge. The messages in rfc4475/ are the
// RFC's own (§3.1.1 valid, §3.1.2 invalid), byte for byte as its Appendix encodes them; the
// files were taken from reSIProcate's extraction of the RFC (resip/stack/test/*.dat). They are sent
// unchanged on a registered flow (the gateway answers on the WebSocket whatever transport the
// Via names), except where noted. After each one another user's flow must still work.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startStack, SipWs, parseSip, registerMsg, token } from './harness.mjs';
import { Ua } from './sipua.mjs';

const dir = path.join(path.dirname(new URL(import.meta.url).pathname), 'rfc4475');
const FORWARDED = 404; // reached the IMS stub, which knows no user at example.com

// What the gateway does with each message. status: the final answer on the WebSocket; close: the
// WebSocket close code; dropped: a response that matches no transaction is dropped (RFC 3261
// §18.1.2), the connection stays open.
const VALID = {
  wsinv: { status: 481, why: 'an INVITE with a To-tag names a dialog the gateway does not hold' },
  intmeth: { close: 1007, why: 'sofia-sip 1.12 cannot parse this method token and URI: not SIP to it' },
  esc01: { status: FORWARDED },
  escnull: { status: 421, why: 'a REGISTER without Supported: path, outbound (TS 24.229 §5.2.2)' },
  esc02: { status: FORWARDED },
  lwsdisp: { status: FORWARDED },
  longreq: { status: FORWARDED, adapt: (t) => t.replace('Via: SIP/2.0/TCP sip33.example.com\r\n', 'Via: SIP/2.0/TCP sip33.example.com;branch=z9hG4bK-longreq\r\n'),
    why: 'top Via given a branch: the WebSocket edge serves RFC 3261 clients only' },
  dblreq: { status: 400, why: 'two messages in one WebSocket message (RFC 7118 §5)' },
  semiuri: { status: FORWARDED },
  transports: { status: FORWARDED },
  mpart01: { status: FORWARDED },
  unreason: { dropped: true },
  noreason: { dropped: true },
};
const INVALID = {
  badinv01: { status: 400 }, clerr: { status: 400 }, ncl: { status: 400 }, scalar02: { status: 400 },
  scalarlg: { dropped: true, why: 'a response: nothing to answer, dropped (RFC 4475 §3.1.2.5)' },
  quotbal: { status: 400 }, ltgtruri: { status: 400 },
  lwsruri: { close: 1007, why: 'the Request-Line cannot be parsed, so there is nothing to answer' },
  lwsstart: { status: 400 }, trws: { status: 400 }, escruri: { status: 400 }, baddate: { status: 400 },
  regbadct: { status: 400 }, badaspec: { status: 400 }, baddn: { status: 400 },
  badvers: { status: 505, why: 'RFC 4475 §3.1.2.16' }, mismatch01: { status: 400 }, mismatch02: { status: 400 },
  bigcode: { close: 1007, why: 'a status code sofia-sip cannot parse' },
};

let stack, bob, aliceToken, regSeq = 0;
before(async () => {
  stack = await startStack({ users: ['alice', 'bob'] });
  bob = await Ua.register(stack, 'bob');
  aliceToken = token(stack, 'alice');
});
after(async () => {
  bob.close();
  const results = await stack.stop();
  for (const [name, r] of Object.entries(results)) assert.deepEqual(r, { code: 0, sig: null }, name);
});

async function registeredAlice() {
  const c = await SipWs.open(stack.wsUrl);
  c.ws.on('error', () => {});
  c.send(registerMsg({ user: 'alice', callId: `torture-reg-${++regSeq}`, auth: `Bearer ${aliceToken}` }));
  assert.equal(parseSip(await c.next()).status, 200);
  return c;
}

/** The final answer to the message with callId, the close code, or 'nothing' within ms. */
async function outcome(c, callId, ms) {
  const deadline = Date.now() + ms;
  const closed = c.closed.then((code) => ({ close: code }));
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return { nothing: true };
    const next = c.next(left).then((t) => ({ msg: parseSip(t) }), () => ({ nothing: true }));
    const r = await Promise.race([next, closed]);
    if (!r.msg) return r;
    if (r.msg.headers['call-id']?.[0] === callId && r.msg.status >= 200) return { status: r.msg.status };
  }
}

async function othersUnaffected() {
  bob.request('MESSAGE', bob.aor, { body: 'still here', contentType: 'text/plain' });
  const m = await bob.waitRequest('MESSAGE');
  bob.respond(m, 200, 'OK');
  assert.equal((await bob.waitStatus(200, 'MESSAGE')).status, 200);
}

let alice;
for (const [kind, table] of [['valid §3.1.1', VALID], ['invalid §3.1.2', INVALID]]) {
  for (const [name, want] of Object.entries(table)) {
    test(`RFC 4475 ${kind} ${name}: ${JSON.stringify(want.status ?? want.close ?? 'dropped')}${want.why ? ` (${want.why})` : ''}`, async () => {
      alice ||= await registeredAlice();
      let bytes = fs.readFileSync(path.join(dir, `${name}.sip`));
      if (want.adapt) bytes = Buffer.from(want.adapt(bytes.toString('latin1')), 'latin1');
      const callId = (/^(?:Call-ID|i)[ \t]*:[ \t]*(\S+)/mi.exec(bytes.toString('latin1')) || [])[1];
      // text frames must be UTF-8 (RFC 6455 §5.6); the others go as binary frames (RFC 7118 §4)
      const utf8 = Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes);
      alice.ws.send(bytes, { binary: !utf8 });
      const got = await outcome(alice, callId, want.dropped ? 400 : 4000);
      if (want.close) {
        assert.deepEqual(got, { close: want.close });
        alice = null;
      } else if (want.dropped) {
        assert.deepEqual(got, { nothing: true });
        alice.send('\r\n\r\n'); // the connection still answers (RFC 5626 keep-alive)
        assert.equal(await alice.next(), '\r\n');
      } else {
        assert.deepEqual(got, { status: want.status });
      }
      await othersUnaffected();
    });
  }
}

test('bytes that are not UTF-8 from one user reach another in a binary frame, not in a text frame her browser must fail on', async () => {
  // RFC 7118 §5.1: a SIP message that is not UTF-8 goes in a binary frame. In a text frame a
  // browser (and ws) fails the whole WebSocket (RFC 6455 §8.1), so one user could cut any other
  // user's connection with one byte in a header of a MESSAGE.
  const a = await Ua.register(stack, 'alice');
  const b = await Ua.register(stack, 'bob');
  try {
    b.ws.send = (text) => b.ws.ws.send(Buffer.from(text, 'latin1'));
    b.request('MESSAGE', a.aor, { body: 'hi', contentType: 'text/plain', extra: ['Subject: caf\u00e9'] });
    const m = await Promise.race([a.waitRequest('MESSAGE'),
      a.ws.closed.then((code) => assert.fail(`alice's WebSocket failed (${code}) instead of receiving the MESSAGE`))]);
    assert.ok(m.headers.subject, 'the MESSAGE reached alice');
    a.respond(m, 200, 'OK');
    await b.waitStatus(200, 'MESSAGE');
    assert.equal(a.ws.ws.readyState, 1, 'alice\'s WebSocket is still open');
  } finally {
    a.close();
    b.close();
  }
});

test('after the torture: nothing in flight, no dialog', async () => {
  alice?.close();
  // failed INVITEs (no ACK from a torture client) linger PROXY_ACK_WAIT_MS = 4 s, then go
  let text = '';
  for (let i = 0; i < 60 && !/^imsgw_proxy_transactions 0$/m.test(text); i++) {
    text = await (await fetch(`${stack.httpUrl}/metrics`)).text();
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(text, /^imsgw_dialogs 0$/m);
  assert.match(text, /^imsgw_proxy_transactions 0$/m);
});
