// The DOM: every text the user sees is set with textContent (never HTML), so names and messages
// from the network cannot inject markup.
const $ = (id) => document.getElementById(id);

export const el = {
  login: $('login'), logout: $('logout'), identity: $('identity'), regStatus: $('reg-status'),
  signedOut: $('signed-out'), signedIn: $('signed-in'), error: $('error'),
  dialForm: $('dial-form'), dialInput: $('dial-input'), call: $('call'),
  answer: $('answer'), reject: $('reject'), hangup: $('hangup'),
  callStatus: $('call-status'), callTimer: $('call-timer'), remoteAudio: $('remote-audio'),
  msgForm: $('msg-form'), msgTo: $('msg-to'), msgInput: $('msg-input'), msgLog: $('msg-log'),
};

export function showError(text) {
  el.error.textContent = text;
  el.error.hidden = !text;
}

export function showSignedIn(signedIn) {
  el.signedOut.hidden = signedIn;
  el.signedIn.hidden = !signedIn;
  if (!signedIn) {
    el.identity.textContent = 'Not signed in';
    el.msgLog.replaceChildren();
    setCall('idle');
  }
}

const REG_TEXT = {
  signedout: 'Signed out', signingin: 'Signing in…', connecting: 'Connecting…',
  registering: 'Registering…', registered: 'Registered', unregistered: 'Not registered',
  failed: 'Not registered', reconnecting: 'Connection lost; reconnecting',
};
export function setRegistration(state, seconds) {
  el.regStatus.textContent = REG_TEXT[state] + (state === 'reconnecting' && seconds ? ` in ${seconds} s…` : '');
  el.regStatus.dataset.state = state;
}

let timer = null;
/** Call panel: which buttons show and the status line. state: idle|calling|ringing|incoming|connected|ended */
export function setCall(state, text) {
  el.callStatus.textContent = text || 'No call';
  el.callStatus.dataset.state = state;
  el.answer.hidden = el.reject.hidden = state !== 'incoming';
  el.hangup.hidden = !['calling', 'ringing', 'connected'].includes(state);
  el.call.disabled = !['idle', 'ended'].includes(state);
  if (state === 'connected' && !timer) {
    const start = Date.now();
    const tick = () => {
      const s = Math.floor((Date.now() - start) / 1000);
      el.callTimer.textContent = `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
    };
    tick();
    timer = setInterval(tick, 1000);
  } else if (state !== 'connected' && timer) {
    clearInterval(timer);
    timer = null;
  }
  if (state === 'idle') el.callTimer.textContent = '';
  if (state === 'incoming') el.answer.focus();
  if (state === 'connected' || state === 'calling') el.hangup.focus();
}

export function logMessage(dir, peer, text, failed = false) {
  const li = document.createElement('li');
  li.className = failed ? `${dir} failed` : dir;
  const time = new Date().toLocaleTimeString();
  li.textContent = `${time} ${dir === 'in' ? 'from' : 'to'} ${peer}: ${text}`;
  el.msgLog.append(li);
  li.scrollIntoView({ block: 'nearest' });
}
