// A small HSS for the real-core tests: a Diameter Cx server (RFC 6733 base + TS 29.228/29.229)
// answering the Kamailio I-CSCF (UAR, LIR) and S-CSCF (MAR, SAR) from a table of subscribers,
// and able to send an RTR (network-initiated de-registration). Only what Kamailio 5.6's cdp and
// ims_* modules need; every read is bounded.
import net from 'node:net';
import crypto from 'node:crypto';

const CX = 16777216;
const V3GPP = 10415;
const FLAG_V = 0x80, FLAG_M = 0x40;
const MAX_MSG = 64 * 1024;

// AVP codes used here
const A = {
  UserName: 1, HostIP: 257, AuthAppId: 258, VSAppId: 260, SessionId: 263, OriginHost: 264,
  SupportedVendor: 265, VendorId: 266, ResultCode: 268, ProductName: 269, AuthSessionState: 277,
  DestRealm: 283, DestHost: 293, OriginRealm: 296, ExpResult: 297, ExpResultCode: 298,
  // 3GPP (vendor 10415)
  PublicIdentity: 601, ServerName: 602, ServerAssignmentType: 614, UserData: 606, NumAuthItems: 607,
  AuthScheme: 608, SipAuthenticate: 609, SipAuthorization: 610, AuthDataItem: 612, ItemNumber: 613,
  DeregReason: 615, ReasonCode: 616,
};

function avp(code, data, { vendor = 0, flags = FLAG_M } = {}) {
  const body = Buffer.isBuffer(data) ? data
    : typeof data === 'number' ? Buffer.from([data >>> 24, (data >>> 16) & 255, (data >>> 8) & 255, data & 255])
      : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(String(data));
  const hlen = vendor ? 12 : 8;
  const len = hlen + body.length;
  const out = Buffer.alloc((len + 3) & ~3);
  out.writeUInt32BE(code, 0);
  out.writeUInt32BE(len, 4);
  out[4] = flags | (vendor ? FLAG_V : 0);
  if (vendor) out.writeUInt32BE(vendor, 8);
  body.copy(out, hlen);
  return out;
}
const v3 = (code, data) => avp(code, data, { vendor: V3GPP });

function parseAvps(buf) {
  const out = [];
  for (let o = 0; o + 8 <= buf.length;) {
    const code = buf.readUInt32BE(o);
    const flags = buf[o + 4];
    const len = buf.readUInt32BE(o + 4) & 0xffffff;
    if (len < 8 || o + len > buf.length) break;
    const hlen = flags & FLAG_V ? 12 : 8;
    const vendor = flags & FLAG_V ? buf.readUInt32BE(o + 8) : 0;
    out.push({ code, vendor, data: buf.subarray(o + hlen, o + len) });
    o += (len + 3) & ~3;
  }
  return out;
}

function message({ cmd, app, request, hbh, e2e, avps, error = false }) {
  const body = Buffer.concat(avps);
  const h = Buffer.alloc(20);
  h.writeUInt32BE(20 + body.length, 0);
  h[0] = 1;
  h.writeUInt32BE(cmd, 4);
  h[4] = (request ? 0x80 : 0) | 0x40 | (error ? 0x20 : 0);
  h.writeUInt32BE(app, 8);
  h.writeUInt32BE(hbh, 12);
  h.writeUInt32BE(e2e, 16);
  return Buffer.concat([h, body]);
}

/**
 * Starts the HSS. subscribers: [{ impi, impu, password? }]. Returns { port, log, rtr(), stop() }.
 * realm: the IMS domain; scscfName: the Server-Name given to the I-CSCF.
 */
export async function startHss({ port, realm, host, scscfName, subscribers }) {
  const log = [];
  const conns = new Map(); // origin host → socket
  let hbhSeq = crypto.randomInt(1 << 30);
  const byImpi = new Map(subscribers.map((s) => [s.impi, s]));
  const byImpu = new Map(subscribers.map((s) => [s.impu, s]));
  const common = (sid) => [
    ...(sid ? [avp(A.SessionId, sid)] : []),
    avp(A.VSAppId, [avp(A.VendorId, V3GPP), avp(A.AuthAppId, CX)]),
    avp(A.AuthSessionState, 1),
    avp(A.OriginHost, host), avp(A.OriginRealm, realm),
  ];
  const userData = (s) => '<?xml version="1.0" encoding="UTF-8"?><IMSSubscription>' +
    `<PrivateID>${s.impi}</PrivateID><ServiceProfile><PublicIdentity><Identity>${s.impu}</Identity>` +
    '</PublicIdentity></ServiceProfile></IMSSubscription>';

  function answer(sock, hdr, avps) {
    const get = (code) => avps.find((a) => a.code === code)?.data;
    const str = (code) => get(code)?.toString();
    const sid = str(A.SessionId);
    const base = { cmd: hdr.cmd, app: hdr.app, request: false, hbh: hdr.hbh, e2e: hdr.e2e };
    const ok = avp(A.ResultCode, 2001);
    const expResult = (code) => avp(A.ExpResult, [avp(A.VendorId, V3GPP), avp(A.ExpResultCode, code)]);
    const impu = str(A.PublicIdentity);
    const impi = str(A.UserName);
    log.push({ cmd: hdr.cmd, impi, impu });
    switch (hdr.cmd) {
      case 257: { // CER
        const origin = str(A.OriginHost);
        if (origin) conns.set(origin, sock);
        return message({ ...base, avps: [ok, avp(A.OriginHost, host), avp(A.OriginRealm, realm),
          avp(A.HostIP, Buffer.from([0, 1, 127, 0, 0, 1])), avp(A.VendorId, V3GPP),
          avp(A.ProductName, 'imsgw-test-hss', { flags: 0 }), avp(A.SupportedVendor, V3GPP),
          avp(A.AuthAppId, CX), avp(A.VSAppId, [avp(A.VendorId, V3GPP), avp(A.AuthAppId, CX)])] });
      }
      case 280: case 282: // DWR, DPR
        return message({ ...base, avps: [ok, avp(A.OriginHost, host), avp(A.OriginRealm, realm)] });
      case 300: // UAR
        if (!byImpu.has(impu)) return message({ ...base, avps: [...common(sid), expResult(5001)] });
        return message({ ...base, avps: [...common(sid), expResult(2001), v3(A.ServerName, scscfName)] });
      case 302: // LIR
        if (!byImpu.has(impu)) return message({ ...base, avps: [...common(sid), expResult(5001)] });
        return message({ ...base, avps: [...common(sid), ok, v3(A.ServerName, scscfName)] });
      case 303: { // MAR: a Digest-MD5 vector (the S-CSCF hex-encodes the nonce bytes)
        const s = byImpi.get(impi);
        if (!s || !s.password) return message({ ...base, avps: [...common(sid), expResult(5001)] });
        return message({ ...base, avps: [...common(sid), ok, avp(A.UserName, impi), v3(A.PublicIdentity, impu || s.impu),
          v3(A.NumAuthItems, 1), v3(A.AuthDataItem, [v3(A.ItemNumber, 0), v3(A.AuthScheme, 'Digest-MD5'),
            v3(A.SipAuthenticate, crypto.randomBytes(16)), v3(A.SipAuthorization, s.password)])] });
      }
      case 301: { // SAR
        const s = byImpi.get(impi) || byImpu.get(impu);
        if (!s) return message({ ...base, avps: [...common(sid), expResult(5001)] });
        return message({ ...base, avps: [...common(sid), ok, avp(A.UserName, s.impi), v3(A.UserData, userData(s))] });
      }
      default:
        return message({ ...base, error: true, avps: [avp(A.ResultCode, 3001), avp(A.OriginHost, host), avp(A.OriginRealm, realm)] });
    }
  }

  const server = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on('error', () => {});
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 20) {
        const len = buf.readUInt32BE(0) & 0xffffff;
        if (len < 20 || len > MAX_MSG) { sock.destroy(); return; }
        if (buf.length < len) break;
        const m = buf.subarray(0, len);
        buf = buf.subarray(len);
        const hdr = { flags: m[4], cmd: m.readUInt32BE(4) & 0xffffff, app: m.readUInt32BE(8), hbh: m.readUInt32BE(12), e2e: m.readUInt32BE(16) };
        const avps = parseAvps(m.subarray(20));
        if (!(hdr.flags & 0x80)) { // an answer (to our RTR)
          log.push({ cmd: hdr.cmd, answer: true, result: avps.find((a) => a.code === A.ResultCode)?.data.readUInt32BE(0) });
          continue;
        }
        sock.write(answer(sock, hdr, avps));
      }
    });
  });
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', resolve); });
  const sockets = new Set();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  return {
    port, log,
    /** Registration-Termination-Request to the S-CSCF for one subscriber (TS 29.228 §6.1.3). */
    rtr(scscfHost, impi) {
      const sock = conns.get(scscfHost);
      if (!sock) throw new Error(`HSS: no Diameter connection from ${scscfHost}`);
      const s = byImpi.get(impi);
      sock.write(message({ cmd: 304, app: CX, request: true, hbh: ++hbhSeq, e2e: hbhSeq,
        avps: [avp(A.SessionId, `${host};${Date.now()};${hbhSeq}`), ...common(null).slice(0),
          avp(A.DestHost, scscfHost), avp(A.DestRealm, realm), avp(A.UserName, impi),
          ...(s ? [v3(A.PublicIdentity, s.impu)] : []),
          v3(A.DeregReason, [v3(A.ReasonCode, 0)])] }));
    },
    connected: (origin) => conns.has(origin),
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
