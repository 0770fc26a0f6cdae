// An IMS-native user agent for the media tests: SIP over TCP straight to the IMS stub (MD5
// Digest, as a native terminal), plain RTP/AVP with G.711 A-law over UDP and no ICE or DTLS.
// It sends a 440 Hz tone and measures what it receives (packets, level), so a test can prove
// audio flows through the relay in both directions.
import net from 'node:net';
import dgram from 'node:dgram';
import crypto from 'node:crypto';
import { parseSip } from './harness.mjs';

const rnd = () => crypto.randomBytes(6).toString('hex');
const md5 = (s) => crypto.createHash('md5').update(s).digest('hex');
const tagOf = (v) => (/;tag=([^;>\s]+)/.exec(v) || [])[1];
const uriOf = (v) => (/<([^>]+)>/.exec(v) || [null, v.split(';')[0]])[1];

// G.711 A-law (ITU-T G.711), enough for a tone and a level.
function alawEncode(pcm) {
  const sign = pcm >= 0 ? 0xd5 : 0x55;
  let v = Math.min(Math.abs(pcm), 32635);
  let exp = 7;
  for (let mask = 0x4000; (v & mask) === 0 && exp > 0; exp--, mask >>= 1);
  const mant = (v >> (exp === 0 ? 4 : exp + 3)) & 0x0f;
  return ((exp << 4) | mant) ^ sign;
}
function alawDecode(a) {
  a ^= 0x55;
  const exp = (a & 0x70) >> 4;
  let v = ((a & 0x0f) << 4) + 8;
  if (exp) v = (v + 0x100) << (exp - 1);
  return a & 0x80 ? v : -v;
}

export class NativeUa {
  /** Registers user (a native HSS entry with password native-<user>-pw) at the stub over TCP. */
  static async register(stack, user) {
    const ua = new NativeUa();
    ua.user = user;
    ua.aor = `sip:${user}@ims.test`;
    ua.stack = stack;
    ua.msgs = [];
    ua.waiters = [];
    ua.server = net.createServer((s) => ua.attach(s));
    await new Promise((r) => ua.server.listen(0, '127.0.0.1', r));
    ua.port = ua.server.address().port;
    ua.contact = `<sip:${user}@127.0.0.1:${ua.port};transport=tcp>`;
    ua.sock = net.connect(stack.stubPort, '127.0.0.1');
    await new Promise((r, j) => { ua.sock.once('connect', r); ua.sock.once('error', j); });
    ua.attach(ua.sock);
    ua.rtp = dgram.createSocket('udp4');
    await new Promise((r) => ua.rtp.bind(0, '127.0.0.1', r));
    ua.rtpPort = ua.rtp.address().port;
    ua.sdpVersion = 0;
    ua.dtmfPt = 101;
    ua.rx = { packets: 0, peak: 0, payloadTypes: new Set(), from: null, digits: '' };
    let lastEventTs = null;
    ua.rtp.on('message', (m, rinfo) => {
      if (m.length < 12 || (m[0] >> 6) !== 2) return;
      ua.rx.packets++;
      ua.rx.from = `${rinfo.address}:${rinfo.port}`;
      ua.rx.payloadTypes.add(m[1] & 0x7f);
      // RFC 4733 telephone-event/8000 (PT of our last SDP): a digit counts once, at its end bit
      // (the end packet is sent three times, with the event's timestamp).
      if ((m[1] & 0x7f) === ua.dtmfPt && m.length >= 16 && (m[13] & 0x80) && m.readUInt32BE(4) !== lastEventTs) {
        lastEventTs = m.readUInt32BE(4);
        ua.rx.digits += '0123456789*#ABCD'[m[12]] ?? '?';
      }
      if ((m[1] & 0x7f) === 8) for (let i = 12; i < m.length; i++) ua.rx.peak = Math.max(ua.rx.peak, Math.abs(alawDecode(m[i])));
    });
    const callId = `reg-${rnd()}`;
    const reg = (cseq, auth) => ua.send([`REGISTER sip:ims.test SIP/2.0`, `Via: SIP/2.0/TCP 127.0.0.1:${ua.port};branch=z9hG4bK-${rnd()}`,
      'Max-Forwards: 70', `From: <${ua.aor}>;tag=r${callId}`, `To: <${ua.aor}>`, `Call-ID: ${callId}`, `CSeq: ${cseq} REGISTER`,
      `Contact: ${ua.contact}`, 'Expires: 600', ...(auth ? [auth] : [])]);
    reg(1);
    const ch = await ua.waitMsg((m) => m.status === 401);
    reg(2, ua.authorization('REGISTER', 'sip:ims.test', ch.headers['www-authenticate'][0]));
    const ok = await ua.waitMsg((m) => m.status === 200 && /REGISTER/.test(m.headers.cseq[0]));
    ua.route = ok.headers['service-route'][0];
    return ua;
  }

  authorization(method, uri, challenge) {
    const p = Object.fromEntries([...challenge.matchAll(/(\w+)="?([^",]*)"?/g)].map((m) => [m[1], m[2]]));
    const cnonce = rnd(), nc = '00000001', user = `${this.user}@ims.test`;
    const ha1 = md5(`${user}:${p.realm}:native-${this.user}-pw`), ha2 = md5(`${method}:${uri}`);
    const response = md5(`${ha1}:${p.nonce}:${nc}:${cnonce}:auth:${ha2}`);
    return `Authorization: Digest username="${user}", realm="${p.realm}", nonce="${p.nonce}", uri="${uri}", ` +
      `response="${response}", algorithm=MD5, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
  }

  attach(s) {
    let buf = Buffer.alloc(0);
    s.on('error', () => {});
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString();
        const len = Number((/\r\ncontent-length:\s*(\d+)/i.exec(head) || [0, 0])[1]);
        if (buf.length < end + 4 + len) return;
        const text = buf.subarray(0, end + 4 + len).toString();
        buf = buf.subarray(end + 4 + len);
        const m = parseSip(text);
        m.sock = s;
        this.msgs.push(m);
        this.waiters = this.waiters.filter((w) => !w());
      }
    });
  }

  send(lines, body = '', sock = this.sock) {
    if (body) lines.push('Content-Type: application/sdp');
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
    sock.write(lines.join('\r\n') + '\r\n\r\n' + body);
  }

  waitMsg(pred, timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const i = this.msgs.findIndex(pred);
        if (i < 0) return false;
        clearTimeout(t);
        resolve(this.msgs.splice(i, 1)[0]);
        return true;
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`${this.user}: no matching SIP message within ${timeoutMs} ms`));
      }, timeoutMs);
      if (!check()) this.waiters.push(check);
    });
  }
  waitRequest(method, timeoutMs) { return this.waitMsg((m) => m.start?.startsWith(`${method} `), timeoutMs); }
  waitStatus(status, method, timeoutMs) {
    return this.waitMsg((m) => m.status === status && m.headers.cseq[0].endsWith(method), timeoutMs);
  }

  /** Plain IMS SDP: RTP/AVP, A-law (and optionally more), telephone-event, no ICE/DTLS. As an
   * answer to offer, telephone-event keeps the offer's payload type (RFC 3264 §6.1). */
  sdp(codecs = ['PCMA'], { offer, direction = 'sendrecv' } = {}) {
    const pts = { PCMA: 8, PCMU: 0 };
    const te = Number((/a=rtpmap:(\d+) telephone-event\/8000/.exec(offer || '') || [0, 101])[1]);
    this.dtmfPt = te;
    return ['v=0', `o=${this.user} 1 ${++this.sdpVersion} IN IP4 127.0.0.1`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
      `m=audio ${this.rtpPort} RTP/AVP ${codecs.map((c) => pts[c]).join(' ')} ${te}`,
      ...codecs.map((c) => `a=rtpmap:${pts[c]} ${c}/8000`), `a=rtpmap:${te} telephone-event/8000`, `a=fmtp:${te} 0-15`,
      'a=ptime:20', `a=${direction}`, ''].join('\r\n');
  }

  /** Where the far end (the relay) wants our RTP, from its SDP. */
  static mediaTarget(sdp) {
    const c = /c=IN IP4 (\S+)/.exec(sdp), m = /m=audio (\d+)/.exec(sdp);
    return { host: c[1], port: Number(m[1]) };
  }

  /** Sends a 440 Hz A-law tone, 20 ms packets, until stopRtp(). */
  startRtp(target) {
    let seq = 0, ts = 0, phase = 0;
    const ssrc = crypto.randomBytes(4).readUInt32BE();
    this.rtpTimer = setInterval(() => {
      const pkt = Buffer.alloc(12 + 160);
      pkt[0] = 0x80; pkt[1] = 8;
      pkt.writeUInt16BE(seq++ & 0xffff, 2); pkt.writeUInt32BE(ts >>> 0, 4); pkt.writeUInt32BE(ssrc, 8);
      for (let i = 0; i < 160; i++, phase++) pkt[12 + i] = alawEncode(Math.round(8000 * Math.sin(2 * Math.PI * 440 * phase / 8000)));
      ts += 160;
      this.rtp.send(pkt, target.port, target.host);
    }, 20);
  }
  stopRtp() { clearInterval(this.rtpTimer); }

  /** An INVITE to target through the Service-Route (the stub trusts its registered contact). */
  invite(target, body) {
    const call = { callId: `${rnd()}@native`, fromTag: rnd(), cseq: 1, target, branch: `z9hG4bK-${rnd()}` };
    this.send([`INVITE ${target} SIP/2.0`, `Via: SIP/2.0/TCP 127.0.0.1:${this.port};branch=${call.branch}`, 'Max-Forwards: 70',
      `From: <${this.aor}>;tag=${call.fromTag}`, `To: <${target}>`, `Call-ID: ${call.callId}`, `CSeq: ${call.cseq} INVITE`,
      `Contact: ${this.contact}`, `Route: ${this.route}`], body);
    return call;
  }
  /** CANCEL of an INVITE we sent (same branch, RFC 3261 §9.1). */
  cancel(call) {
    this.send([`CANCEL ${call.target} SIP/2.0`, `Via: SIP/2.0/TCP 127.0.0.1:${this.port};branch=${call.branch}`, 'Max-Forwards: 70',
      `From: <${this.aor}>;tag=${call.fromTag}`, `To: <${call.target}>`, `Call-ID: ${call.callId}`, `CSeq: ${call.cseq} CANCEL`,
      `Route: ${this.route}`]);
  }
  /** ACK for a non-2xx (same branch) or, with a dialog, for a 2xx. */
  ack(call, rsp, dialog) {
    const lines = dialog
      ? [`ACK ${dialog.target} SIP/2.0`, `Via: SIP/2.0/TCP 127.0.0.1:${this.port};branch=z9hG4bK-${rnd()}`, 'Max-Forwards: 70',
        `From: <${this.aor}>;tag=${call.fromTag}`, `To: ${rsp.headers.to[0]}`, `Call-ID: ${call.callId}`, `CSeq: ${call.cseq} ACK`,
        ...dialog.routes.map((r) => `Route: ${r}`)]
      : [`ACK ${call.target} SIP/2.0`, `Via: SIP/2.0/TCP 127.0.0.1:${this.port};branch=${call.branch}`, 'Max-Forwards: 70',
        `From: <${this.aor}>;tag=${call.fromTag}`, `To: ${rsp.headers.to[0]}`, `Call-ID: ${call.callId}`, `CSeq: ${call.cseq} ACK`,
        `Route: ${this.route}`];
    this.send(lines);
  }
  /** The dialog after a 2xx to our INVITE. */
  dialogFrom(call, rsp) {
    const rr = (rsp.headers['record-route'] || []).flatMap((v) => v.split(/,(?![^<]*>)/).map((x) => x.trim())).reverse();
    return { callId: call.callId, localTag: call.fromTag, remoteTag: tagOf(rsp.headers.to[0]), local: this.aor,
      remote: call.target, target: uriOf(rsp.headers.contact[0]), routes: rr, cseq: call.cseq };
  }
  /** Answers a request received on sock with status; returns the dialog for a 2xx to INVITE. */
  respond(req, status, reason, body = '', toTag = req.toTag || rnd()) {
    req.toTag = toTag;
    const to = tagOf(req.headers.to[0]) ? req.headers.to[0] : `${req.headers.to[0]};tag=${toTag}`;
    this.send([`SIP/2.0 ${status} ${reason}`, ...req.headers.via.map((v) => `Via: ${v}`), `From: ${req.headers.from[0]}`,
      `To: ${to}`, `Call-ID: ${req.headers['call-id'][0]}`, `CSeq: ${req.headers.cseq[0]}`,
      ...(req.headers['record-route'] || []).map((v) => `Record-Route: ${v}`), `Contact: ${this.contact}`], body, req.sock);
    const rr = (req.headers['record-route'] || []).flatMap((v) => v.split(/,(?![^<]*>)/).map((x) => x.trim()));
    return { callId: req.headers['call-id'][0], localTag: toTag, remoteTag: tagOf(req.headers.from[0]),
      local: uriOf(req.headers.to[0]), remote: uriOf(req.headers.from[0]), target: uriOf(req.headers.contact?.[0] || ''),
      routes: rr, cseq: 100 };
  }
  /** An in-dialog request (BYE; re-INVITE with body; ACK keeps the INVITE's CSeq number). */
  inDialog(d, method, body = '') {
    const n = method === 'ACK' ? d.cseq : ++d.cseq;
    this.send([`${method} ${d.target} SIP/2.0`, `Via: SIP/2.0/TCP 127.0.0.1:${this.port};branch=z9hG4bK-${rnd()}`,
      'Max-Forwards: 70', `From: <${d.local}>;tag=${d.localTag}`, `To: <${d.remote}>;tag=${d.remoteTag}`,
      `Call-ID: ${d.callId}`, `CSeq: ${n} ${method}`, `Contact: ${this.contact}`, ...d.routes.map((r) => `Route: ${r}`)], body);
  }
  close() {
    this.stopRtp();
    this.sock.destroy();
    this.server.close();
    this.rtp.close();
  }
}
