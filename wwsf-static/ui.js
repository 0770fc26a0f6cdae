// The DOM: every text the user sees is set with textContent (never HTML), so names and messages
// from the network cannot inject markup.
import { TONES } from './calls.js';
import { describeCall } from './history.js';

const $ = (id) => document.getElementById(id);

export const el = {
  login: $('login'), logout: $('logout'), identity: $('identity'), regStatus: $('reg-status'),
  signedOut: $('signed-out'), signedIn: $('signed-in'), error: $('error'), announce: $('announce'),
  notifyLine: $('notify-line'), allowNotify: $('allow-notify'),
  dialForm: $('dial-form'), dialInput: $('dial-input'), call: $('call'), videoToggle: $('video-toggle'),
  answer: $('answer'), reject: $('reject'), hangup: $('hangup'),
  callStatus: $('call-status'), callTimer: $('call-timer'), remoteAudio: $('remote-audio'),
  inCall: $('in-call'), mute: $('mute'), hold: $('hold'), keypadToggle: $('keypad-toggle'),
  keypad: $('keypad'), keys: document.querySelector('.keypad'), dtmfMode: $('dtmf-mode'),
  dtmfSent: $('dtmf-sent'), dtmfReceived: $('dtmf-received'),
  transferToggle: $('transfer-toggle'), transferForm: $('transfer-form'), transferInput: $('transfer-input'),
  waiting: $('waiting'), waitingText: $('waiting-text'), cwAnswer: $('cw-answer'), cwReject: $('cw-reject'),
  other: $('other-call'), otherText: $('other-text'), swap: $('swap'), otherHangup: $('other-hangup'),
  videos: $('videos'), remoteVideo: $('remote-video'), selfView: $('self-view'),
  msgForm: $('msg-form'), msgTo: $('msg-to'), msgInput: $('msg-input'), msgLog: $('msg-log'),
  threads: $('threads'), unreadTotal: $('unread-total'),
  history: $('history'), contacts: $('contacts'), clearHistory: $('clear-history'), recentPeers: $('recent-peers'),
  selects: [$('mic-select'), $('speaker-select'), $('camera-select')],
};

for (const t of TONES) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = t;
  b.dataset.tone = t;
  b.dataset.testid = `key-${t}`;
  b.setAttribute('aria-label', `tone ${t === '*' ? 'star' : t === '#' ? 'pound' : t}`);
  el.keys.append(b);
}

export function showError(text) {
  el.error.textContent = text;
  el.error.hidden = !text;
}

/** Says `text` to screen-reader users at once (call and message events). */
export function announce(text) {
  el.announce.textContent = '';
  setTimeout(() => { el.announce.textContent = text; }, 50);
}

export function showSignedIn(signedIn) {
  el.signedOut.hidden = signedIn;
  el.signedIn.hidden = !signedIn;
  if (!signedIn) {
    el.identity.textContent = 'Not signed in';
    el.msgLog.replaceChildren();
    el.threads.replaceChildren();
    el.history.replaceChildren();
    el.contacts.replaceChildren();
    setUnread(0);
    setCall('idle');
    setControls(null);
    setWaiting(null);
    setOther(null);
  }
}

const REG_TEXT = {
  signedout: 'Signed out', signingin: 'Signing in…', connecting: 'Connecting…',
  registering: 'Registering…', registered: 'Registered', unregistered: 'Not registered',
  failed: 'Not registered', reconnecting: 'Connection lost; reconnecting',
  offline: 'Network lost; reconnecting when it is back',
  removed: 'Not registered: the network removed your registration',
  expired: 'Signed out: your sign-in expired',
};
let countdown = null;
/** The connection in plain words; `seconds` counts down for 'reconnecting'. */
export function setRegistration(state, seconds) {
  clearInterval(countdown);
  countdown = null;
  el.regStatus.dataset.state = state;
  if (state !== 'reconnecting' || !seconds) {
    el.regStatus.textContent = REG_TEXT[state] || state;
    return;
  }
  let left = seconds;
  const show = () => { el.regStatus.textContent = `${REG_TEXT.reconnecting} in ${left} s…`; };
  show();
  countdown = setInterval(() => {
    if (--left <= 0) { clearInterval(countdown); countdown = null; el.regStatus.textContent = `${REG_TEXT.reconnecting}…`; return; }
    show();
  }, 1000);
}

let timer = null;
/** Call panel: which buttons show and the status line. state: idle|calling|ringing|incoming|connected|ended */
export function setCall(state, text, since = Date.now()) {
  el.callStatus.textContent = text || 'No call';
  el.callStatus.dataset.state = state;
  el.answer.hidden = el.reject.hidden = state !== 'incoming';
  el.hangup.hidden = !['calling', 'ringing', 'connected'].includes(state);
  el.call.disabled = !['idle', 'ended'].includes(state);
  clearInterval(timer);
  timer = null;
  if (state === 'connected') {
    const tick = () => {
      const s = Math.max(0, Math.floor((Date.now() - since) / 1000));
      el.callTimer.textContent = `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
    };
    tick();
    timer = setInterval(tick, 1000);
  }
  if (state === 'idle') el.callTimer.textContent = '';
  if (state === 'incoming') el.answer.focus();
  if (state === 'connected' || state === 'calling') {
    // Keep focus where the user is working (keypad, transfer); otherwise on Hang up.
    const a = document.activeElement;
    if (!a || a === document.body || a.hidden || [el.call, el.dialInput, el.answer, el.cwAnswer].includes(a)) el.hangup.focus();
  }
}

/** In-call controls for the call on screen (null: none). */
export function setControls(call) {
  const on = Boolean(call && call.state === 'connected');
  el.inCall.hidden = !on;
  if (!on) {
    el.keypad.hidden = el.transferForm.hidden = true;
    el.keypadToggle.setAttribute('aria-expanded', 'false');
    el.transferToggle.setAttribute('aria-expanded', 'false');
    el.dtmfSent.textContent = '';
    el.dtmfReceived.hidden = true;
    el.dtmfReceived.textContent = '';
    return;
  }
  el.mute.setAttribute('aria-pressed', String(call.muted));
  el.mute.textContent = call.muted ? 'Unmute' : 'Mute';
  el.hold.setAttribute('aria-pressed', String(call.held));
  el.hold.textContent = call.held ? 'Resume' : 'Hold';
}

export function toggle(button, panel, open = panel.hidden) {
  panel.hidden = !open;
  button.setAttribute('aria-expanded', String(open));
  if (open) panel.querySelector('button, input, select')?.focus();
}

export function setWaiting(call) {
  el.waiting.hidden = !call;
  if (call) {
    el.waitingText.textContent = `Call waiting: ${call.peer} is calling`;
    el.cwAnswer.focus();
  }
}

export function setOther(call) {
  el.other.hidden = !call;
  if (call) el.otherText.textContent = `${call.held ? 'On hold' : 'Other call'}: ${call.peer}`;
}

const STATE_TEXT = { sending: 'sending…', delivered: 'delivered', failed: 'not delivered', received: '' };
/** The message list: the open thread, or all. */
export function renderMessages(items) {
  el.msgLog.replaceChildren(...items.map((m) => {
    const li = document.createElement('li');
    li.className = m.state === 'failed' ? `${m.dir} failed` : m.dir;
    li.dataset.state = m.state;
    const time = new Date(m.at).toLocaleTimeString();
    li.append(`${time} ${m.dir === 'in' ? 'from' : 'to'} ${m.peer}: ${m.text}`);
    if (m.dir === 'out') {
      const st = document.createElement('span');
      st.className = 'state';
      st.textContent = ` (${STATE_TEXT[m.state]})`;
      li.append(st);
    }
    return li;
  }));
  el.msgLog.lastElementChild?.scrollIntoView({ block: 'nearest' });
}

export function setUnread(total) {
  el.unreadTotal.hidden = !total;
  el.unreadTotal.textContent = total ? `${total} unread` : '';
  document.title = total ? `(${total}) imsgw web phone` : 'imsgw web phone';
}

/** One button per conversation ("All" first), with its unread count. */
export function renderThreads(threads, open, onPick) {
  const button = (peer, label, unread) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = unread ? `${label} (${unread} unread)` : label;
    b.dataset.peer = peer || '';
    b.dataset.testid = peer ? `threads-${peer}` : 'threads-all';
    b.setAttribute('aria-current', String((peer || null) === open));
    b.addEventListener('click', () => onPick(peer));
    return b;
  };
  el.threads.replaceChildren(button(null, 'All', 0),
    ...[...threads.entries()].map(([peer, t]) => button(peer, peer, t.unread)));
}

export function renderHistory(history, { onCall, onMessage }) {
  el.history.replaceChildren(...history.calls.map((e) => {
    const li = document.createElement('li');
    li.className = e.outcome === 'missed' && e.direction === 'in' ? 'failed' : '';
    li.dataset.outcome = `${e.direction}:${e.outcome}`;
    li.textContent = describeCall(e);
    return li;
  }));
  if (!history.calls.length) {
    const li = document.createElement('li');
    li.textContent = 'No calls yet.';
    el.history.append(li);
  }
  el.contacts.replaceChildren(...history.peers.map((peer) => {
    const li = document.createElement('li');
    const name = document.createElement('span');
    name.textContent = peer;
    const call = document.createElement('button');
    call.type = 'button';
    call.textContent = 'Call';
    call.setAttribute('aria-label', `Call ${peer}`);
    call.addEventListener('click', () => onCall(peer));
    const msg = document.createElement('button');
    msg.type = 'button';
    msg.textContent = 'Message';
    msg.setAttribute('aria-label', `Message ${peer}`);
    msg.addEventListener('click', () => onMessage(peer));
    li.append(name, call, msg);
    return li;
  }));
  el.recentPeers.replaceChildren(...history.peers.map((p) => Object.assign(document.createElement('option'), { value: p })));
}

/** Fills the device lists; the first entry is the browser's default. */
export function renderDevices(devices) {
  for (const sel of el.selects) {
    const kind = sel.dataset.kind;
    const chosen = devices.choice[kind] || '';
    const opts = [Object.assign(document.createElement('option'), { value: '', textContent: 'Default' })];
    devices.of(kind).forEach((d, i) => opts.push(Object.assign(document.createElement('option'),
      { value: d.deviceId, textContent: d.label || `${kind} ${i + 1}` })));
    sel.replaceChildren(...opts);
    sel.value = opts.some((o) => o.value === chosen) ? chosen : '';
  }
}
