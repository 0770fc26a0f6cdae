// A minimal S-CSCF over TCP for tests that must see exactly what the gateway sends upstream:
// it records every request and answers a REGISTER with 200 (Contact with the granted expiry,
// Service-Route naming itself, P-Associated-URI), anything else with 200 too — unless the test's
// onRequest(m, reply) hook takes the request (returns true) and answers with reply(lines) itself.
// routeParams: the Service-Route's URI parameters before ;lr (default ;transport=tcp).
import net from 'node:net';
import { parseSip } from './harness.mjs';

export async function startFakeScscf({ onRequest, routeParams = ';transport=tcp' } = {}) {
  const scscf = { received: [], responses: [], sockets: new Set() };
  scscf.server = net.createServer((sock) => {
    scscf.sockets.add(sock);
    sock.on('close', () => scscf.sockets.delete(sock));
    sock.on('error', () => {});
    let buf = Buffer.alloc(0);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const len = Number((/^(?:content-length|l)\s*:\s*(\d+)/im.exec(head) || [0, 0])[1]);
        if (buf.length < end + 4 + len) return;
        const text = buf.subarray(0, end + 4 + len).toString('latin1');
        buf = buf.subarray(end + 4 + len);
        if (/^\s*$/.test(head)) continue; // keep-alive CRLFs
        const m = parseSip(text);
        if (m.status !== null) { // a response to a request a test sent with send()
          scscf.responses.push(m);
          continue;
        }
        scscf.received.push(m);
        if (onRequest && onRequest(m, (lines) => sock.write(lines.join('\r\n') + '\r\n\r\n'))) continue;
        const h = m.headers;
        const expires = Number((/expires=(\d+)/.exec(h.contact?.[0] || '') || [])[1] ?? h.expires?.[0] ?? 600);
        const lines = ['SIP/2.0 200 OK', ...h.via.map((v) => `Via: ${v}`), `From: ${h.from[0]}`,
          `To: ${h.to[0]}${/tag=/.test(h.to[0]) ? '' : ';tag=fake-scscf'}`, `Call-ID: ${h['call-id'][0]}`,
          `CSeq: ${h.cseq[0]}`];
        if (m.start.startsWith('REGISTER') && h.contact && expires > 0) {
          lines.push(`Contact: ${h.contact[0].replace(/;expires=\d+/, '')};expires=${expires}`,
            `Service-Route: <sip:orig@127.0.0.1:${scscf.port}${routeParams};lr>`, `P-Associated-URI: ${h.to[0].replace(/;tag=.*/, '')}`);
        }
        lines.push('Content-Length: 0');
        sock.write(lines.join('\r\n') + '\r\n\r\n');
      }
    });
  });
  await new Promise((r) => scscf.server.listen(0, '127.0.0.1', r));
  scscf.port = scscf.server.address().port;
  // Sends a request to the gateway on the connection it opened to us (the last one).
  scscf.send = (lines, body = '') => {
    const sock = [...scscf.sockets].pop();
    if (body) lines.push('Content-Type: application/sdp');
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
    sock.write(lines.join('\r\n') + '\r\n\r\n' + body);
  };
  scscf.registers = () => scscf.received.filter((m) => m.start.startsWith('REGISTER'));
  scscf.stop = async () => {
    for (const s of scscf.sockets) s.destroy();
    await new Promise((r) => scscf.server.close(r));
  };
  return scscf;
}
