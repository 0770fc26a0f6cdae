// PROXY protocol v2 (issue 15) with `workers 2` on loopback: the workers accept their own
// connections (SO_REUSEPORT), and each must take the balancer's header off the stream and use the
// client's address in it, as a single process does; a header from an address not in
// proxy-protocol-from is refused by whichever worker gets it. The balancer here is this process
// connecting from 127.0.0.2 (the stack's own health checks come from 127.0.0.1, without a header).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startStack, sleep, freePortRange } from './harness.mjs';

const BALANCER = '127.0.0.2';
let stack, recoveryPort;

before(async () => {
  recoveryPort = await freePortRange(2);
  // behind a balancer the recovery URL must be given: the balancer forwards each worker's port
  stack = await startStack({ gatewayArgs: ['--workers', '2', '--proxy-protocol-from', BALANCER,
    '--recovery-port', String(recoveryPort), '--recovery-url', 'wss://gw.example.com:{port}/sip'] });
  for (let i = 0; i < 100 && (stack.gateway.log.match(/ listening: /g) || []).length < 2; i++) await sleep(50);
});
after(async () => {
  const results = await stack.stop();
  for (const [name, r] of Object.entries(results)) assert.deepEqual(r, { code: 0, sig: null }, name);
});

/** A PROXY v2 header: TCP over IPv4 from client (a.b.c.d) port 40000 to 10.0.0.1:443. */
function header(client) {
  const addr = Buffer.from([...client.split('.').map(Number), 10, 0, 0, 1, 0x9c, 0x40, 0x01, 0xbb]);
  return Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540a', 'hex'), Buffer.from([0x21, 0x11, 0, 12]), addr]);
}

/** Header, then a WebSocket handshake, from localAddress; the first line of the answer ('' if none). */
function handshake(localAddress, client, port = stack.gwPort) {
  const req = 'GET /sip HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n';
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress });
    let got = '';
    const done = () => { s.destroy(); resolve(got.split('\r\n')[0]); };
    s.on('connect', () => s.write(Buffer.concat([header(client), Buffer.from(req)])));
    s.on('data', (d) => { got += d; if (got.includes('\r\n\r\n')) done(); });
    s.on('close', done);
    s.on('error', done);
    s.setTimeout(5000, done);
  });
}

const opened = (w, addr) => new RegExp(`imsgw-gateway/${w} info: ws: connection \\d+ open from ${addr.replace(/\./g, '\\.')}\\b`);

test('both workers take the header off and see the client\'s address', async () => {
  // connections until the kernel has handed some to each worker
  for (let i = 0; i < 40 && !(opened(0, '198.51.100.').test(stack.gateway.log) && opened(1, '198.51.100.').test(stack.gateway.log)); i++) {
    const first = await handshake(BALANCER, `198.51.100.${i + 1}`);
    assert.match(first, /^HTTP\/1\.1 101/, `connection ${i}: the handshake behind the header`);
  }
  await sleep(200);
  for (const w of [0, 1]) {
    assert.match(stack.gateway.log, opened(w, '198.51.100.'), `worker ${w}: the client's address`);
    assert.doesNotMatch(stack.gateway.log, opened(w, BALANCER), `worker ${w}: never the balancer's`);
  }
});

test('a header from an address not in proxy-protocol-from is refused by every worker', async () => {
  const refused = (w) => new RegExp(`imsgw-gateway/${w} warn: proxy-protocol: connection from 127\\.0\\.0\\.1 refused: a PROXY protocol header`);
  for (let i = 0; i < 40 && !(refused(0).test(stack.gateway.log) && refused(1).test(stack.gateway.log)); i++) {
    assert.doesNotMatch(await handshake('127.0.0.1', '203.0.113.9'), /101/);
    await sleep(20);
  }
  for (const w of [0, 1]) assert.match(stack.gateway.log, refused(w), `worker ${w} refused one`);
  assert.doesNotMatch(stack.gateway.log, /203\.0\.113\.9/, 'the forged address is believed nowhere');
});

test('each worker\'s recovery port has the same PROXY gate: the header from the balancer, refused from elsewhere', async () => {
  for (const w of [0, 1]) {
    assert.match(await handshake(BALANCER, `192.0.2.${w + 1}`, recoveryPort + w), /^HTTP\/1\.1 101/, `worker ${w}`);
    assert.doesNotMatch(await handshake('127.0.0.1', '203.0.113.77', recoveryPort + w), /101/, `worker ${w}: no header trust`);
  }
  await sleep(200);
  for (const w of [0, 1]) assert.match(stack.gateway.log, opened(w, `192.0.2.${w + 1}`), `worker ${w}: the client's address`);
  assert.doesNotMatch(stack.gateway.log, /203\.0\.113\.77/, 'the forged address is believed nowhere');
});
