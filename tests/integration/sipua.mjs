// A small SIP user agent over WebSocket for the call tests: registers with a WAF token, sends
// and answers requests, keeps dialogs (route set from Record-Route, remote target from Contact).
// Only what the tests need; every wait is bounded.
import crypto from 'node:crypto';
import { SipWs, parseSip, registerMsg, token } from './harness.mjs';
import { proof } from './dpop.mjs';

const rnd = () => crypto.randomBytes(6).toString('hex');

/** Splits "<a>, <b>;x" into ["<a>", "<b>;x"] (commas inside <> kept). */
export function splitList(values = []) {
  const out = [];
  for (const v of values) {
    let depth = 0, start = 0;
    for (let i = 0; i < v.length; i++) {
      if (v[i] === '<') depth++;
      else if (v[i] === '>') depth--;
      else if (v[i] === ',' && depth === 0) { out.push(v.slice(start, i).trim()); start = i + 1; }
    }
    out.push(v.slice(start).trim());
  }
  return out.filter(Boolean);
}

const uriOf = (v) => (/<([^>]+)>/.exec(v) || [null, v.split(';')[0]])[1];
const tagOf = (v) => (/;tag=([^;>\s]+)/.exec(v) || [])[1];

export class Ua {
  /** Registers user on a new WebSocket; with dpop (a key from dpop.mjs) the token is bound to
   * it and every REGISTER carries a proof (docs/dpop-sip.md). instance: the +sip.instance UUID
   * (a re-registering client keeps its own; default random). */
  static async register(stack, user, { scope, dpop, instance = crypto.randomUUID() } = {}) {
    const ua = new Ua();
    ua.user = user;
    ua.aor = `sip:${user}@ims.test`;
    ua.host = `${rnd()}.invalid`;
    ua.contact = `<sip:${user}@${ua.host};transport=ws;ob>`;
    ua.instance = instance;
    ua.requests = [];
    ua.responses = [];
    ua.waiters = [];
    ua.key = dpop;
    ua.token = token(stack, user, [...(scope ? ['--scope', scope] : []), ...(dpop ? ['--jkt', dpop.jkt] : [])]);
    ua.regCseq = 0;
    await ua.connect(stack);
    return ua;
  }

  /** A new WebSocket for this UA (after the old one broke) and a REGISTER on it with the same
   * Contact, +sip.instance and reg-id: RFC 5626 flow recovery. Returns the REGISTER's answer. */
  // url: where to connect (default the stack's shared WebSocket URL)
  async connect(stack, { key = this.key, tok = this.token, expect = 200, url = stack.wsUrl } = {}) {
    this.ws = await SipWs.open(url);
    this.ws.ws.removeAllListeners('message');
    this.ws.ws.on('message', (d) => this.onMessage(d.toString()));
    let rsp = await this.sendRegister(key, tok);
    if (rsp.status === 401 && key && rsp.headers['dpop-nonce']) { // the gateway's nonce, once
      this.nonce = rsp.headers['dpop-nonce'][0];
      rsp = await this.sendRegister(key, tok);
    }
    if (expect && rsp.status !== expect) throw new Error(`register ${this.user}: ${rsp.status} ${rsp.headers['www-authenticate']}`);
    if (rsp.status === 200) {
      this.serviceRoute = splitList(rsp.headers['service-route']);
      this.path = splitList(rsp.headers.path); // which gateway holds the flow (tests/scale)
      if (rsp.headers['dpop-nonce']) this.nonce = rsp.headers['dpop-nonce'][0];
      // the worker's own URL for a reconnect that should keep the calls (docs/dpop-sip.md)
      this.recoveryUrl = /<([^>]+)>/.exec(rsp.headers['flow-recovery-uri']?.[0] || '')?.[1] ?? null;
    }
    return rsp;
  }

  async sendRegister(key, tok) {
    const extra = key ? [`DPoP: ${proof(key, { htm: 'REGISTER', htu: 'sip:ims.test', nonce: this.nonce, accessToken: tok })}`] : [];
    this.ws.send(registerMsg({ user: this.user, callId: `reg-${this.host}`, cseq: ++this.regCseq,
      auth: `${this.key ? 'DPoP' : 'Bearer'} ${tok}`, extra })
      .replace(/Contact: [^\r]*/, `Contact: ${this.contact};+sip.instance="<urn:uuid:${this.instance}>";reg-id=1`));
    return this.waitResponse((r) => /REGISTER/.test(r.headers.cseq[0]));
  }

  onMessage(text) {
    if (text === '\r\n') return;
    const m = parseSip(text);
    // Like every UA (RFC 3261 §17.1.1.3): a non-2xx final answer to INVITE is acknowledged with
    // the INVITE's branch, so the proxies can close their transactions.
    if (m.status >= 300 && / INVITE$/.test(m.headers.cseq[0]) && this.sent?.[m.branch]) {
      const tx = this.sent[m.branch];
      this.ws.send([`ACK ${tx.target} SIP/2.0`, `Via: ${m.headers.via[0]}`, 'Max-Forwards: 70',
        `From: ${m.headers.from[0]}`, `To: ${m.headers.to[0]}`, `Call-ID: ${m.headers['call-id'][0]}`,
        `CSeq: ${parseInt(m.headers.cseq[0], 10)} ACK`, ...this.serviceRoute.map((r) => `Route: ${r}`),
        'Content-Length: 0', '', ''].join('\r\n'));
    }
    (m.status ? this.responses : this.requests).push(m);
    this.waiters = this.waiters.filter((w) => !w());
  }

  wait(list, pred, timeoutMs) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const i = list.findIndex(pred);
        if (i < 0) return false;
        clearTimeout(t);
        resolve(list.splice(i, 1)[0]);
        return true;
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`${this.user}: nothing matching within ${timeoutMs} ms`));
      }, timeoutMs);
      if (!check()) this.waiters.push(check);
    });
  }
  waitRequest(method, timeoutMs = 5000) {
    return this.wait(this.requests, (r) => r.start.startsWith(`${method} `), timeoutMs);
  }
  waitResponse(pred, timeoutMs = 5000) { return this.wait(this.responses, pred, timeoutMs); }
  waitStatus(status, method, timeoutMs = 5000) {
    return this.waitResponse((r) => r.status === status && r.headers.cseq[0].endsWith(method), timeoutMs);
  }

  /** Sends an out-of-dialog request; returns its identifiers. */
  request(method, target, { body = '', contentType = 'application/sdp', extra = [] } = {}) {
    const tx = { callId: `${rnd()}@${this.host}`, fromTag: rnd(), cseq: 1, branch: `z9hG4bK-${rnd()}`, target };
    const lines = [`${method} ${target} SIP/2.0`, `Via: SIP/2.0/WSS ${this.host};branch=${tx.branch}`,
      'Max-Forwards: 70', `From: <${this.aor}>;tag=${tx.fromTag}`, `To: <${target}>`, `Call-ID: ${tx.callId}`,
      `CSeq: ${tx.cseq} ${method}`, `Contact: ${this.contact}`, ...this.serviceRoute.map((r) => `Route: ${r}`), ...extra];
    if (body) lines.push(`Content-Type: ${contentType}`);
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
    this.ws.send(lines.join('\r\n') + '\r\n\r\n' + body);
    tx.method = method;
    (this.sent ||= {})[tx.branch] = tx;
    return tx;
  }
  send(text) { this.ws.send(text); }

  /** Answers a received request; returns the dialog when it is a 2xx to a dialog-forming one. */
  respond(req, status, reason, { toTag = req.toTag || rnd(), body = '', extra = [] } = {}) {
    req.toTag = toTag;
    const to = status === 100 ? req.headers.to[0] : (tagOf(req.headers.to[0]) ? req.headers.to[0] : `${req.headers.to[0]};tag=${toTag}`);
    const lines = [`SIP/2.0 ${status} ${reason}`, ...req.headers.via.map((v) => `Via: ${v}`),
      `From: ${req.headers.from[0]}`, `To: ${to}`, `Call-ID: ${req.headers['call-id'][0]}`, `CSeq: ${req.headers.cseq[0]}`,
      ...(req.headers['record-route'] || []).map((v) => `Record-Route: ${v}`), `Contact: ${this.contact}`, ...extra];
    if (body) lines.push('Content-Type: application/sdp');
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
    this.ws.send(lines.join('\r\n') + '\r\n\r\n' + body);
    return {
      callId: req.headers['call-id'][0], localTag: toTag, remoteTag: tagOf(req.headers.from[0]),
      local: uriOf(req.headers.to[0]), remote: uriOf(req.headers.from[0]),
      target: uriOf(req.headers.contact?.[0] || ''), routes: splitList(req.headers['record-route']), cseq: 100,
    };
  }

  /** The dialog a UAC holds after a 2xx. */
  dialogFrom(tx, rsp) {
    return {
      callId: tx.callId, localTag: tx.fromTag, remoteTag: tagOf(rsp.headers.to[0]), local: this.aor,
      remote: tx.target, target: uriOf(rsp.headers.contact[0]), routes: splitList(rsp.headers['record-route']).reverse(),
      cseq: tx.cseq,
    };
  }

  /** Sends an in-dialog request (ACK keeps the INVITE's CSeq number). */
  inDialog(d, method, { body = '', cseq, extra = [] } = {}) {
    const n = cseq ?? (method === 'ACK' ? d.cseq : ++d.cseq);
    const branch = `z9hG4bK-${rnd()}`;
    const lines = [`${method} ${d.target} SIP/2.0`, `Via: SIP/2.0/WSS ${this.host};branch=${branch}`, 'Max-Forwards: 70',
      `From: <${d.local}>;tag=${d.localTag}`, `To: <${d.remote}>;tag=${d.remoteTag}`, `Call-ID: ${d.callId}`,
      `CSeq: ${n} ${method}`, ...d.routes.map((r) => `Route: ${r}`), `Contact: ${this.contact}`, ...extra];
    if (body) lines.push('Content-Type: application/sdp');
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
    this.ws.send(lines.join('\r\n') + '\r\n\r\n' + body);
    return { branch, cseq: n };
  }

  close() { this.ws.close(); }
}

export const SDP = (who) => ['v=0', `o=${who} 1 1 IN IP4 127.0.0.1`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=rtpmap:111 opus/48000/2', ''].join('\r\n');
