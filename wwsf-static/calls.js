// One call: a JsSIP RTCSession with the controls a softphone offers (mute, hold, tones, blind
// transfer, answer/reject/hang up). Events go to `emit(event, detail)`; nothing here touches the DOM.
import JsSIP from './vendor/jssip.js';

export const TONES = '123456789*0#';
/** How tones are sent: 'auto' = in the audio (RFC 4733) when the call negotiated
 * telephone-event, else SIP INFO; or one of the two forced. */
export const DTMF_MODES = ['auto', 'rfc4733', 'info'];
const TONE_MS = 120;
const TONE_GAP_MS = 70;

let nextId = 1;

export class Call {
  /** session: JsSIP RTCSession; originator: 'local' | 'remote'; peer: SIP URI string. */
  constructor(session, originator, peer, emit) {
    this.id = nextId++;
    this.session = session;
    this.direction = originator === 'remote' ? 'in' : 'out';
    this.peer = peer;
    this.state = this.direction === 'in' ? 'incoming' : 'calling';
    this.startedAt = Date.now();
    this.answeredAt = null;
    this.muted = false;
    this.held = false; // we put it on hold
    this.remoteHeld = false; // the peer did
    this.resuming = false; // our resume re-INVITE is out, its answer not yet in
    this.video = false;
    this.remoteStream = null;
    this.emit = (event, detail = {}) => emit(event, { call: this, peer, originator, ...detail });
    this.wire();
  }

  wire() {
    const s = this.session;
    const attach = (pc) => pc.addEventListener('track', (ev) => {
      this.remoteStream = ev.streams[0];
      this.emit('track', { stream: ev.streams[0] });
    });
    if (s.connection) attach(s.connection);
    else s.on('peerconnection', (ev) => attach(ev.peerconnection));
    s.on('progress', () => { if (this.direction === 'out') this.setState('ringing'); });
    const up = () => {
      if (this.state === 'connected') return;
      this.answeredAt ||= Date.now();
      this.setState('connected');
    };
    s.on('accepted', up);
    s.on('confirmed', up);
    s.on('hold', (e) => this.holdChanged(e.originator, true));
    s.on('unhold', (e) => this.holdChanged(e.originator, false));
    s.on('newDTMF', (e) => { if (e.originator === 'remote') this.emit('dtmf', { tone: e.dtmf.tone }); });
    const finish = (event) => (ev) => {
      this.state = 'ended';
      this.emit(event, { cause: ev.cause, originatorOfEnd: ev.originator });
    };
    s.on('ended', finish('ended'));
    s.on('failed', finish('failed'));
  }

  setState(state) {
    this.state = state;
    this.emit(state);
  }

  holdChanged(originator, on) {
    if (originator === 'local') this.held = on;
    else this.remoteHeld = on;
    this.emit('hold', { held: this.held, remoteHeld: this.remoteHeld });
  }

  get ended() { return this.state === 'ended'; }
  get connection() { return this.session.connection; }

  answer(options) { this.video = Boolean(options.mediaConstraints.video); this.session.answer(options); }
  reject() { this.session.terminate({ status_code: 603, reason_phrase: 'Decline' }); }
  hangup() { if (!this.session.isEnded()) this.session.terminate(); }

  /** Mute stops sending the microphone (the track is disabled: the peer hears silence). */
  setMuted(on) {
    if (on) this.session.mute({ audio: true });
    else this.session.unmute({ audio: true });
    this.muted = on;
    this.emit('mute', { muted: on });
  }

  /** Hold/resume by re-INVITE (a=sendonly, or inactive when the peer holds too; RFC 3264 §8.4).
   * Resolves when the peer accepted the new offer. JsSIP reports "unhold" as it sends the
   * re-INVITE, so `resuming` stays true until the answer came: the call is not back yet (a peer
   * that refuses ends the call, as JsSIP does). */
  setHeld(on) {
    return new Promise((resolve, reject) => {
      if (!on) this.resuming = true;
      const answered = () => {
        if (!on && this.resuming) {
          this.resuming = false;
          this.emit('hold', { held: this.held, remoteHeld: this.remoteHeld });
        }
        resolve();
      };
      const ok = on ? this.session.hold({}, answered) : this.session.unhold({}, answered);
      if (!ok) {
        this.resuming = false;
        reject(new Error(on ? 'The call cannot be put on hold right now.' : 'The call cannot be resumed right now.'));
      }
    });
  }

  /** The audio sender's RTCDTMFSender when the call negotiated telephone-event, else null. */
  dtmfSender() {
    const pc = this.session.connection;
    const sender = pc && pc.getSenders().find((x) => x.track && x.track.kind === 'audio');
    return sender && sender.dtmf && sender.dtmf.canInsertDTMF ? sender.dtmf : null;
  }

  /** Sends one tone; returns how it went ('rfc4733' | 'info'). */
  sendTone(tone, mode = 'auto') {
    if (!TONES.includes(tone) || tone.length !== 1) throw new Error(`"${tone}" is not a keypad tone.`);
    const rtp = this.dtmfSender();
    if (mode === 'rfc4733' && !rtp) throw new Error('This call cannot carry tones in its audio; choose SIP INFO.');
    const how = mode === 'info' || !rtp ? 'info' : 'rfc4733';
    this.session.sendDTMF(tone, {
      duration: TONE_MS,
      interToneGap: TONE_GAP_MS,
      transportType: how === 'info' ? JsSIP.C.DTMF_TRANSPORT.INFO : JsSIP.C.DTMF_TRANSPORT.RFC2833,
    });
    return how;
  }

  /** Blind transfer (RFC 3515 REFER): the peer calls `uri`; once its NOTIFY says the new call
   * was answered, our leg is hung up. */
  transfer(uri) {
    this.emit('transfer', { step: 'asking', target: uri });
    this.session.refer(uri, {
      eventHandlers: {
        requestFailed: (e) => this.emit('transfer', { step: 'failed', target: uri, reason: e.cause }),
        progress: () => this.emit('transfer', { step: 'ringing', target: uri }),
        accepted: () => {
          this.emit('transfer', { step: 'done', target: uri });
          this.hangup();
        },
        failed: (e) => this.emit('transfer', { step: 'failed', target: uri, reason: e.status_line?.reason_phrase || e.cause || 'refused' }),
      },
    });
  }

  /** Seconds talked so far (0 if never answered). */
  get talkSeconds() { return this.answeredAt ? Math.round((Date.now() - this.answeredAt) / 1000) : 0; }
}
