// The SIP side, on JsSIP: one UA per sign-in that registers with the access token, keeps the
// registration alive across token renewals and lost connections, and runs calls and messages.
// Events go to the `on` callbacks; nothing here touches the DOM.
import JsSIP, { Parser } from './vendor/jssip.js';
import { backoffSeconds } from './backoff.js';
import { parseBearerChallenge } from './oauth.js';
import { dpopProof } from './dpop.js';
import { Call } from './calls.js';

/** Calls at once: one talking and one waiting or on hold (call waiting); a third caller is busy. */
export const MAX_CALLS = 2;

const INSTANCE_KEY = 'imsgw.sip.instance';

/** The RFC 5626 instance id, kept across reloads: it names this browser, it is not a secret. */
function instanceId() {
  let id = localStorage.getItem(INSTANCE_KEY);
  if (!id || !/^[0-9a-f-]{36}$/.test(id)) {
    id = crypto.randomUUID();
    localStorage.setItem(INSTANCE_KEY, id);
  }
  return id;
}

/** A user name or SIP URI as typed → a SIP URI string, or null when it is not usable. */
export function toSipUri(text, domain) {
  const t = (text || '').trim();
  if (!t) return null;
  const uri = /^sips?:/i.test(t) ? t : t.includes('@') ? `sip:${t}` : `sip:${t}@${domain}`;
  return JsSIP.URI.parse(uri) ? uri : null;
}

/** WebSocket close code of the gateway: the network de-registered this user (issue 11). */
const NETWORK_DEREGISTERED = 4401;
// A recovery port that a firewall drops would keep the WebSocket connecting for minutes, past
// the gateway's grace: after this long the page gives up on it and tries the shared URL.
const RECOVERY_CONNECT_MS = 3000;

export class Phone {
  /**
   * cfg: loaded config; impu: the user's IMPU; token: access token; tokenType: 'Bearer' or
   * 'DPoP' (then every REGISTER carries a proof by this browser's key, docs/dpop-sip.md);
   * on: { registration(state, detail), challenge(params) → Promise<bool>,
   *       session(event, detail{call, peer, originator, …}), message(dir, peer, text),
   *       error(text) }
   * media: () → { audio, video } constraints of the devices chosen (devices.js).
   */
  constructor(cfg, impu, token, expiresIn, on, tokenType = 'Bearer') {
    this.cfg = cfg;
    this.on = on;
    this.token = token;
    this.scheme = tokenType === 'DPoP' ? 'DPoP' : 'Bearer';
    this.failures = 0;
    this.calls = new Map(); // id → Call
    this.media = () => ({ audio: true, video: false });
    this.mainSocket = new JsSIP.WebSocketInterface(cfg.wsUrl);
    this.recoveryUrl = null; // the gateway worker's own URL (Flow-Recovery-URI), see reconnectTo
    this.ua = new JsSIP.UA({
      sockets: [this.mainSocket],
      uri: impu,
      authorization_jwt: `${this.scheme} ${token}`,
      instance_id: instanceId(),
      // RFC 8898 / standards §7.3: the registration must not outlive the token.
      register_expires: Math.max(30, Math.min(cfg.registerExpires, Math.floor(expiresIn))),
      session_timers: false,
      user_agent: 'imsgw-wic',
    });
    this.wire();
    this.watchMalformed();
    if (this.scheme === 'DPoP') this.proveRegisters();
  }

  /** Every REGISTER JsSIP sends (the first, its refreshes, after a reconnect) gets a fresh proof
   * first: JsSIP builds the request synchronously, so its Registrator's register() is wrapped to
   * sign (asynchronous in WebCrypto) and then set the DPoP header before the real send. */
  proveRegisters() {
    const reg = this.ua.registrator();
    const send = reg.register.bind(reg);
    reg.register = () => {
      dpopProof('REGISTER', String(reg._registrar), { nonce: this.sipNonce, accessToken: this.token })
        .then((proof) => { reg.setExtraHeaders([`DPoP: ${proof}`]); send(); })
        .catch(() => this.on.error('This browser could not sign the registration (WebCrypto unavailable).'));
    };
  }

  /** The gateway's DPoP-Nonce from a REGISTER answer, for the next proof. */
  keepNonce(response) {
    const n = response && response.getHeader('DPoP-Nonce');
    if (n) this.sipNonce = n;
  }

  /** The URL of the gateway worker holding this flow, from a REGISTER 200 (docs/dpop-sip.md,
   * "Workers"): only a ws/wss URL, and never plain ws when the page uses wss. */
  keepRecoveryUrl(response) {
    const m = /^<((wss?):\/\/[^\s<>"]+)>$/.exec((response && response.getHeader('Flow-Recovery-URI')) || '');
    this.recoveryUrl = m && (m[2] === 'wss' || !this.cfg.wsUrl.startsWith('wss:')) ? m[1] : null;
  }

  /** Where JsSIP reconnects next. With calls held for us, the worker that holds them first (the
   * shared URL may land on another worker, which cannot recover them), then the shared URL:
   * JsSIP takes the heaviest socket that did not just fail, so a failed attempt at one makes the
   * next try the other, within the gateway's grace. Otherwise the shared URL only. */
  reconnectTo(inCall) {
    const transport = this.ua._transport;
    const main = { socket: this.mainSocket, weight: 0, status: 0 };
    if (!inCall || !this.recoveryUrl) {
      transport.sockets = [main];
      return;
    }
    if (this.recoverySocket?.url !== this.recoveryUrl) {
      this.recoverySocket = new JsSIP.WebSocketInterface(this.recoveryUrl);
    }
    transport.sockets = [{ socket: this.recoverySocket, weight: 1, status: 0 }, main];
  }

  start() { this.on.registration('connecting'); this.ua.start(); }

  /** A renewed token: used from now on, and the binding is refreshed with it at once. */
  renew(token) {
    this.token = token;
    this.ua.set('authorization_jwt', `${this.scheme} ${token}`);
    if (this.ua.isConnected()) this.ua.register();
  }

  /** The browser says the network is back: reconnect at once rather than wait out the back-off
   * (it spares the server a crowd of failing clients; a repaired link is not one). */
  networkBack() {
    if (this.stopped) return;
    if (this.ua.isConnected()) {
      if (this.ua.isRegistered()) this.on.registration('registered');
      return;
    }
    clearTimeout(this.ua._transport.recovery_timer);
    this.ua._transport.connect();
  }

  /** De-registers (expires=0) and closes the WebSocket; bounded so sign-out never hangs. */
  stop() {
    return new Promise((resolve) => {
      for (const c of this.calls.values()) c.hangup();
      const done = () => { clearTimeout(t); resolve(); };
      const t = setTimeout(done, 3000);
      this.ua.once('unregistered', () => setTimeout(done, 0));
      this.ua.once('disconnected', done);
      this.stopped = true;
      this.ua.stop(); // sends REGISTER with expires=0 when registered, then closes
      if (!this.ua.isRegistered()) setTimeout(done, 300);
    });
  }

  wire() {
    const { ua, on } = this;
    ua.on('connected', () => on.registration('registering'));
    ua.on('connecting', (e) => {
      if (e.socket !== this.recoverySocket) return;
      // JsSIP opens the WebSocket right after this event; closing it (not JsSIP's disconnect,
      // which would silence its close) makes JsSIP move on to the shared URL (reconnectTo).
      Promise.resolve().then(() => {
        const ws = e.socket._ws;
        setTimeout(() => { if (ws && ws.readyState === WebSocket.CONNECTING) ws.close(); }, RECOVERY_CONNECT_MS);
      });
    });
    ua.on('disconnected', (e) => {
      if (this.stopped) return;
      if (e && e.code === NETWORK_DEREGISTERED) {
        // The IMS network ended the registration (gateway reg-event): no automatic way back.
        this.stopped = true;
        ua.stop();
        on.registration('removed');
        on.error('The network ended your registration. Sign in again to use the phone.');
        return;
      }
      // JsSIP's own recovery is random in [1, 2^n] s; use the RFC 5626 §4.5 schedule instead by
      // pinning JsSIP's next delay to ours (it clamps its draw to [min, max]). With a call up
      // and a DPoP key, at once: the gateway holds the call for its flow-recovery grace only.
      const inCall = this.scheme === 'DPoP' && this.calls.size > 0;
      const delay = inCall ? 0 : backoffSeconds(this.failures++, this.cfg.reconnectBaseSeconds);
      this.reconnectTo(inCall);
      ua.transport.recovery_options = { min_interval: delay, max_interval: delay };
      on.registration(navigator.onLine === false ? 'offline' : 'reconnecting', Math.ceil(delay));
    });
    ua.on('registered', (e) => {
      this.failures = 0;
      this.keepNonce(e.response);
      this.keepRecoveryUrl(e.response);
      const pau = e.response.getHeader('P-Associated-URI') || '';
      const first = /<([^>]+)>/.exec(pau);
      on.registration('registered', first ? first[1] : null);
    });
    // JsSIP also says "unregistered" right after "disconnected" (its registrator forgets the
    // binding with the transport): that is the reconnect path, whose countdown stays on screen.
    ua.on('unregistered', () => { if (!this.stopped && ua.isConnected()) on.registration('unregistered'); });
    ua.on('registrationFailed', (e) => this.registrationFailed(e));
    ua.on('newRTCSession', (e) => this.newSession(e));
    ua.on('newMessage', (e) => {
      if (e.originator !== 'remote') return;
      on.message('in', e.request.from.uri.toString(), e.request.body || '');
    });
  }

  /** JsSIP drops a message it cannot parse without a word (UA onTransportData): the page checks
   * each one first with JsSIP's own parser and says so, then lets JsSIP drop it as before. */
  watchMalformed() {
    const transport = this.ua._transport;
    const deliver = transport.ondata;
    transport.ondata = (data) => {
      const text = typeof data.message === 'string' ? data.message : '';
      if (text && text !== '\r\n' && !Parser.parseMessage(text, this.ua)) {
        this.on.malformed?.(text.length);
      }
      deliver(data);
    };
  }

  async registrationFailed(e) {
    const res = e.response;
    this.keepNonce(res);
    // RFC 9449 §8: the gateway wants its (fresh) nonce in the proof; once, then as any 401.
    const dpopError = res && res.status_code === 401 && this.scheme === 'DPoP'
      && (res.getHeaders('WWW-Authenticate') || []).some((h) => /error="use_dpop_nonce"/.test(h));
    if (dpopError && !this.nonceRetried) {
      this.nonceRetried = true;
      setTimeout(() => { this.nonceRetried = false; }, 10000);
      this.ua.register();
      return;
    }
    if (res && res.status_code === 401) {
      // RFC 8898: follow a Bearer challenge only to an authorization server we trust.
      const ch = parseBearerChallenge(res.getHeader('WWW-Authenticate'));
      const server = ch && ch.authz_server ? ch.authz_server.replace(/\/+$/, '') : null;
      if (!server || !this.cfg.trustedAuthzServers.includes(server)) {
        this.on.registration('failed');
        this.on.error(`The network asked to sign in at ${server ? `an unknown server (${server})` : 'an unnamed server'}; for your safety this was not followed.`);
        return;
      }
      // A renewed token, then the same Registrator re-sends (same Call-ID, CSeq + 1).
      if (!this.challengeRetried && (await this.on.challenge(ch))) {
        this.challengeRetried = true;
        setTimeout(() => { this.challengeRetried = false; }, 30000);
        return;
      }
      if (this.stopped) return; // the renewal failed and signed the user out: that message stays
      this.on.registration('failed');
      this.on.error('The network did not accept your sign-in. Please sign in again.');
      return;
    }
    if (e.cause === JsSIP.C.causes.CONNECTION_ERROR || e.cause === JsSIP.C.causes.REQUEST_TIMEOUT) return; // reconnect handles it
    this.on.registration('failed');
    this.on.error(`Registration failed (${res ? `${res.status_code} ${res.reason_phrase}` : e.cause}).`);
  }

  /** A user name or SIP URI as typed → SIP URI, or an error in plain words. */
  target(text) {
    const uri = toSipUri(text, this.cfg.sipDomain);
    if (!uri) throw new Error(`"${text}" is not a user name or SIP address.`);
    return uri;
  }

  /** Calls `target` (user name or SIP URI); `video` adds the camera. Returns the Call. */
  call(target, { video = false } = {}) {
    const uri = toSipUri(target, this.cfg.sipDomain);
    if (!uri) throw new Error(`"${target}" is not a user name or SIP address that can be called.`);
    if (this.calls.size >= MAX_CALLS) throw new Error('There are already two calls. Hang one up first.');
    const call = this.callOf(this.ua.call(uri, this.mediaOptions(video)));
    if (call) call.video = video; // a transfer asked of this call keeps the camera
    return call;
  }

  /** Answers `call` (the newest incoming one when not given). */
  answer(call = this.incoming(), { video = false } = {}) { call?.answer(this.mediaOptions(video)); }
  reject(call = this.incoming()) { call?.reject(); }
  /** Hangs up `call` (the first one when not given). */
  hangup(call = this.calls.values().next().value) { call?.hangup(); }

  incoming() { return [...this.calls.values()].reverse().find((c) => c.state === 'incoming') || null; }

  mediaOptions(video = false) {
    const m = this.media();
    return {
      mediaConstraints: { audio: m.audio, video: video ? m.video || true : false },
      pcConfig: { iceServers: this.cfg.iceServers },
    };
  }

  callOf(session) { return [...this.calls.values()].find((c) => c.session === session) || null; }

  newSession({ session, originator, request }) {
    if (this.calls.size >= MAX_CALLS) { // a third caller is busy
      if (originator === 'remote') session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
      return;
    }
    const peer = (originator === 'remote' ? request.from : request.to).uri.toString();
    const call = new Call(session, originator, peer, (event, detail) => {
      if (event === 'ended' || event === 'failed') this.calls.delete(call.id);
      this.on.session(event, detail);
    });
    call.offeredVideo = originator === 'remote' && /^m=video /m.test(request.body || '');
    this.calls.set(call.id, call);
    // Blind transfer asked by the peer (RFC 3515): this phone calls the target at once and
    // reports the new call's progress back by NOTIFY; the peer then hangs up its leg.
    session.on('refer', (e) => {
      const target = e.request.refer_to.uri.toString();
      if (this.calls.size >= MAX_CALLS) { e.reject(); return; }
      this.on.session('referred', { call, peer, target });
      e.accept(null, this.mediaOptions(call.video));
    });
    call.emit(call.state);
  }

  sendMessage(target, text) {
    const uri = toSipUri(target, this.cfg.sipDomain);
    if (!uri) throw new Error(`"${target}" is not a user name or SIP address.`);
    return new Promise((resolve, reject) => {
      this.ua.sendMessage(uri, text, {
        eventHandlers: {
          succeeded: () => resolve(uri),
          failed: (e) => reject(Object.assign(new Error(e.cause), { uri, cause: e.cause, response: e.response })),
        },
      });
    });
  }

  /** The first call's peer connection (tests read its statistics). */
  get peerConnection() { const c = this.calls.values().next().value; return c ? c.connection : null; }
}
