// The call panel: which call is on screen, call waiting (a second call answered while the first
// is held), the in-call controls, the ringtone and notification, and the history entry when a
// call ends. phone.js and calls.js do the SIP; this module only decides what the user sees.
import { el, setCall, setControls, setWaiting, setOther, toggle, showError, announce } from './ui.js';
import { notifyIncoming, Ringtone } from './alerts.js';

const CAUSE_TEXT = {
  Busy: (p) => `${p} is busy.`,
  Rejected: (p) => `${p} declined the call.`,
  'Not Found': (p) => `${p} is not reachable (unknown or not signed in).`,
  Unavailable: (p) => `${p} is not reachable right now.`,
  'Request Timeout': (p) => `${p} is not reachable right now.`,
  'No Answer': (p) => `${p} did not answer.`,
  'User Denied Media Access': () => 'The microphone or camera could not be used: access was refused or there is none.',
  'Connection Error': () => 'The connection to the network was lost during the call.',
  'Address Incomplete': (p) => `${p} is not a complete address.`,
};
export const causeText = (cause, peer) => CAUSE_TEXT[cause]?.(peer);

/** History outcome of a call that failed before it was answered. */
function outcomeOf(call, d) {
  if (call.direction === 'in') {
    if (d.cause === 'Rejected' && d.originatorOfEnd === 'local') return 'rejected';
    return d.cause === 'Canceled' || d.cause === 'No Answer' || d.cause === 'Request Timeout' ? 'missed' : 'failed';
  }
  if (d.cause === 'Rejected' || d.cause === 'Busy') return 'rejected';
  return d.cause === 'Canceled' || d.cause === 'No Answer' ? 'missed' : 'failed';
}

export class CallView {
  /** ctx: { phone() → Phone|null, history() → History|null, historyChanged(), connected() } */
  constructor(ctx) {
    this.ctx = ctx;
    this.shown = null; // the call in the main panel
    this.ring = new Ringtone();
    this.note = null;
    this.dtmfMode = 'auto';
    this.bind();
  }

  get phone() { return this.ctx.phone(); }
  others() { return this.phone ? [...this.phone.calls.values()].filter((c) => c !== this.shown) : []; }

  /** phone.js session events. */
  onSession(event, d) {
    const { call } = d;
    switch (event) {
      case 'incoming': return this.incoming(call);
      case 'calling': this.show(call, 'calling', `Calling ${call.peer}…`); break;
      case 'ringing': if (call === this.shown) setCall('ringing', `Ringing ${call.peer}…`); break;
      case 'connected': this.connected(call); break;
      case 'track': if (call === this.shown) this.play(call); break;
      case 'hold': this.refresh(call); break;
      case 'mute': if (call === this.shown) setControls(call); break;
      case 'dtmf':
        el.dtmfReceived.hidden = false;
        el.dtmfReceived.textContent = `Tones received from ${call.peer}: ${(el.dtmfReceived.dataset.tones || '') + d.tone}`;
        el.dtmfReceived.dataset.tones = (el.dtmfReceived.dataset.tones || '') + d.tone;
        break;
      case 'transfer': this.transferStep(call, d); break;
      case 'referred': announce(`${d.peer} transferred you to ${d.target}. Calling ${d.target}.`); break;
      case 'ended':
      case 'failed': this.finished(call, event, d); break;
      default: break;
    }
    return undefined;
  }

  show(call, state, text) {
    this.shown = call;
    setCall(state, text, call.answeredAt || Date.now());
    setControls(call);
    setOther(this.others()[0] || null);
  }

  incoming(call) {
    this.ring.start();
    document.body.dataset.ringing = 'true';
    this.note?.close();
    this.note = notifyIncoming(call.peer);
    announce(`Incoming call from ${call.peer}`);
    if (this.shown && !this.shown.ended) setWaiting(call);
    else this.show(call, 'incoming', `Incoming call from ${call.peer}`);
  }

  stopAlerting() {
    if (this.phone?.incoming()) return;
    this.ring.stop();
    delete document.body.dataset.ringing;
    this.note?.close();
    this.note = null;
  }

  connected(call) {
    this.stopAlerting();
    if (el.waiting.hidden === false && this.phone?.incoming() === null) setWaiting(null);
    if (call !== this.shown) { setOther(this.others()[0] || null); return; }
    this.refresh(call);
    this.play(call);
    this.showVideo(call);
    this.ctx.connected?.();
  }

  /** Status line and controls of the call on screen after a change (hold, resume). */
  refresh(call) {
    if (call !== this.shown) { setOther(this.others()[0] || null); return; }
    if (call.state !== 'connected') return;
    let text = `In call with ${call.peer}`;
    if (call.held) text = `On hold: ${call.peer} (press Resume to talk)`;
    else if (call.resuming) text = `Resuming the call with ${call.peer}…`;
    else if (call.remoteHeld) text = `${call.peer} put you on hold`;
    setCall('connected', text, call.answeredAt);
    setControls(call);
    setOther(this.others()[0] || null);
  }

  play(call) {
    const stream = call.remoteStream;
    el.remoteAudio.srcObject = stream || null;
    if (stream) el.remoteAudio.play().catch(() => { /* autoplay may wait for a click */ });
  }

  showVideo(call) {
    const pc = call.connection;
    const local = pc ? pc.getSenders().map((s) => s.track).filter((t) => t && t.kind === 'video') : [];
    const remote = call.remoteStream ? call.remoteStream.getVideoTracks() : [];
    el.videos.hidden = !local.length && !remote.length;
    el.selfView.srcObject = local.length ? new MediaStream(local) : null;
    el.remoteVideo.srcObject = remote.length ? call.remoteStream : null;
  }

  transferStep(call, d) {
    const text = {
      asking: `Transferring ${call.peer} to ${d.target}…`,
      ringing: `${d.target} is ringing for ${call.peer}…`,
      done: `${call.peer} was transferred to ${d.target}.`,
      failed: `The transfer to ${d.target} did not work (${d.reason}).`,
    }[d.step];
    announce(text);
    if (d.step === 'failed') showError(text);
    else if (call === this.shown && call.state === 'connected') el.callStatus.textContent = text;
    if (d.step === 'done') this.transferredText = text;
  }

  finished(call, event, d) {
    const h = this.ctx.history();
    if (h) {
      const answered = Boolean(call.answeredAt);
      h.addCall({ peer: call.peer, direction: call.direction, outcome: answered ? 'answered' : outcomeOf(call, d),
        startedAt: call.startedAt, seconds: call.talkSeconds });
      this.ctx.historyChanged();
    }
    this.stopAlerting();
    if (!el.waiting.hidden && !this.phone?.incoming()) setWaiting(null);
    let text;
    if (event === 'ended') text = this.transferredText || (d.originatorOfEnd === 'remote' ? `Call ended by ${call.peer}` : 'Call ended');
    else if (d.originator === 'remote' && d.cause === 'Canceled') text = `Missed call from ${call.peer}`;
    else if (d.cause === 'Rejected' && d.originatorOfEnd === 'local') text = 'Call rejected';
    else text = causeText(d.cause, call.peer) || `Call failed (${d.cause})`;
    this.transferredText = null;
    announce(text);
    if (event === 'failed' && d.cause === 'User Denied Media Access') showError(text);
    if (call !== this.shown) { setOther(this.others()[0] || null); return; }
    const next = this.others()[0];
    if (next) {
      // The held call comes back on screen (still held: the user resumes it).
      this.shown = next;
      if (next.state === 'incoming') { setWaiting(null); this.show(next, 'incoming', `Incoming call from ${next.peer}`); } else this.refresh(next);
      setOther(null);
      el.callStatus.textContent = `${text} ${el.callStatus.textContent}`;
      return;
    }
    this.shown = null;
    setCall('ended', text);
    setControls(null);
    setOther(null);
    el.remoteAudio.srcObject = null;
    el.videos.hidden = true;
    el.selfView.srcObject = el.remoteVideo.srcObject = null;
    delete el.dtmfReceived.dataset.tones;
  }

  async run(fn) {
    try {
      showError('');
      await fn();
    } catch (err) {
      showError(err.message);
    }
  }

  bind() {
    el.answer.addEventListener('click', () => this.phone?.answer(this.shown, { video: this.shown?.offeredVideo && el.videoToggle.checked }));
    el.reject.addEventListener('click', () => this.phone?.reject(this.shown));
    el.hangup.addEventListener('click', () => this.phone?.hangup(this.shown));
    el.mute.addEventListener('click', () => this.shown?.setMuted(!this.shown.muted));
    el.hold.addEventListener('click', () => this.run(async () => {
      const call = this.shown;
      if (call) await call.setHeld(!call.held);
    }));
    el.keypadToggle.addEventListener('click', () => toggle(el.keypadToggle, el.keypad));
    el.transferToggle.addEventListener('click', () => toggle(el.transferToggle, el.transferForm));
    el.dtmfMode.addEventListener('change', () => { this.dtmfMode = el.dtmfMode.value; });
    el.keys.addEventListener('click', (ev) => {
      const tone = ev.target.closest('button')?.dataset.tone;
      if (!tone || !this.shown) return;
      this.run(() => {
        const how = this.shown.sendTone(tone, this.dtmfMode);
        el.dtmfSent.textContent += tone;
        el.dtmfSent.dataset.via = how;
      });
    });
    // With the focus in the keypad, the keyboard's own digit, * and # keys press the buttons.
    el.keypad.addEventListener('keydown', (ev) => {
      if (ev.key.length !== 1 || !el.keys.querySelector(`[data-tone="${CSS.escape(ev.key)}"]`)) return;
      if (ev.target.tagName === 'SELECT') return;
      ev.preventDefault();
      el.keys.querySelector(`[data-tone="${CSS.escape(ev.key)}"]`).click();
    });
    el.transferForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.run(() => {
        const uri = this.phone.target(el.transferInput.value);
        this.shown.transfer(uri);
        toggle(el.transferToggle, el.transferForm, false);
        el.hangup.focus();
      });
    });
    // Call waiting: hold the call on screen, answer the new one; it takes the screen.
    el.cwAnswer.addEventListener('click', () => this.run(async () => {
      const waiting = this.phone?.incoming();
      if (!waiting) return;
      const current = this.shown;
      if (current && current.state === 'connected' && !current.held) await current.setHeld(true);
      setWaiting(null);
      this.shown = waiting;
      this.phone.answer(waiting, { video: false });
      setCall('calling', `Answering ${waiting.peer}…`);
      setOther(current);
    }));
    el.cwReject.addEventListener('click', () => {
      const waiting = this.phone?.incoming();
      if (waiting) waiting.reject();
      setWaiting(null);
      el.hangup.focus();
    });
    el.swap.addEventListener('click', () => this.run(async () => {
      const other = this.others()[0];
      const current = this.shown;
      if (!other || other.state !== 'connected') return;
      if (current && current.state === 'connected' && !current.held) await current.setHeld(true);
      this.shown = other;
      if (other.held) await other.setHeld(false);
      this.refresh(other);
      this.play(other);
      el.hold.focus();
    }));
    el.otherHangup.addEventListener('click', () => { this.others()[0]?.hangup(); el.hangup.focus(); });
  }

  reset() {
    this.ring.stop();
    this.note?.close();
    this.note = null;
    this.shown = null;
  }
}
