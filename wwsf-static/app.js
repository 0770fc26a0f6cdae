// Wires sign-in (oauth.js), the SIP phone (phone.js) and the page (ui.js). The session state —
// tokens included — lives in this module's memory only: a reload means signing in again.
import { loadConfig } from './config.js';
import { startSignIn, isCallback, finishSignIn, refresh, revoke, SignInError } from './oauth.js';
import { Phone } from './phone.js';
import { forgetDpopKey } from './dpop.js';
import { el, showError, showSignedIn, setRegistration, setCall, logMessage } from './ui.js';

let cfg = null;
let tokens = null; // { access, refresh, expiresIn, impu, type: 'Bearer' or 'DPoP' }
let phone = null;
let refreshTimer = null;

/** When to renew: at half-life, or 5 min before expiry for long tokens. A REGISTER sent at any
 * time (a reconnect, JsSIP's own refresh) then carries a token with at least half its life left,
 * which keeps the registration the gateway grants above its minimum. */
const renewAfterMs = (lifetime) => Math.max(lifetime / 2, lifetime - 300) * 1000;

function scheduleRenewal() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => renewToken().catch(() => {}), renewAfterMs(tokens.expiresIn));
}

/** Gets a fresh access token with the refresh token; on failure the user is signed out. */
async function renewToken() {
  if (!tokens?.refresh) {
    await endSession('Your sign-in has expired. Please sign in again.');
    return false;
  }
  try {
    const next = await refresh(cfg, tokens.refresh);
    tokens = { ...next, refresh: next.refresh || tokens.refresh };
  } catch (err) {
    await endSession(`Your sign-in expired and could not be renewed. ${err instanceof SignInError ? err.message : ''}`.trim());
    return false;
  }
  scheduleRenewal();
  phone?.renew(tokens.access);
  return true;
}

function startPhone() {
  showSignedIn(true);
  el.identity.textContent = tokens.impu;
  phone = new Phone(cfg, tokens.impu, tokens.access, tokens.expiresIn, {
    registration: (state, detail) => {
      setRegistration(state, detail);
      if (state === 'registered' && detail) el.identity.textContent = detail;
      if (state === 'registered') showError('');
    },
    challenge: () => renewToken(),
    session: onSession,
    message: (dir, peer, text) => logMessage(dir, peer, text),
    error: showError,
  }, tokens.type);
  phone.start();
  scheduleRenewal();
}

const CAUSE_TEXT = {
  Busy: (p) => `${p} is busy.`,
  Rejected: (p) => `${p} declined the call.`,
  'Not Found': (p) => `${p} is not reachable (unknown or not signed in).`,
  Unavailable: (p) => `${p} is not reachable right now.`,
  'Request Timeout': (p) => `${p} is not reachable right now.`,
  'No Answer': (p) => `${p} did not answer.`,
  'User Denied Media Access': () => 'The microphone could not be used: access was refused or there is no microphone.',
  'Connection Error': () => 'The connection to the network was lost during the call.',
  'Address Incomplete': (p) => `${p} is not a complete address.`,
};

function onSession(event, d) {
  switch (event) {
    case 'calling': setCall('calling', `Calling ${d.peer}…`); break;
    case 'ringing': if (d.originator === 'local') setCall('ringing', `Ringing ${d.peer}…`); break;
    case 'incoming': setCall('incoming', `Incoming call from ${d.peer}`); break;
    case 'connected': setCall('connected', `In call with ${d.peer}`); break;
    case 'track':
      el.remoteAudio.srcObject = d.stream;
      el.remoteAudio.play().catch(() => { /* autoplay may wait for a click; audio starts then */ });
      break;
    case 'ended':
      setCall('ended', d.originatorOfEnd === 'remote' ? `Call ended by ${d.peer}` : 'Call ended');
      el.remoteAudio.srcObject = null;
      break;
    case 'failed': {
      const text = CAUSE_TEXT[d.cause]?.(d.peer);
      if (d.originator === 'remote' && d.cause === 'Canceled') setCall('ended', `Missed call from ${d.peer}`);
      else if (d.cause === 'Rejected' && d.originatorOfEnd === 'local') setCall('ended', 'Call rejected');
      else setCall('ended', text || `Call failed (${d.cause})`);
      if (d.cause === 'User Denied Media Access') showError(text);
      break;
    }
    default: break;
  }
}

/** Signs out locally (tokens dropped, phone stopped); `reason` is shown as an error if given. */
async function endSession(reason) {
  clearTimeout(refreshTimer);
  const p = phone;
  phone = null;
  const refreshToken = tokens?.refresh;
  tokens = null;
  if (p) await p.stop();
  await revoke(cfg, refreshToken);
  await forgetDpopKey(); // what was bound to it is dropped; the next sign-in makes a new key
  showSignedIn(false);
  setRegistration('signedout');
  showError(reason || '');
  el.login.focus();
}

function bindUi() {
  el.login.addEventListener('click', () => {
    el.login.disabled = true;
    startSignIn(cfg).catch((err) => { el.login.disabled = false; showError(`Sign-in could not start: ${err.message}`); });
  });
  el.logout.addEventListener('click', () => endSession());
  el.dialForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    try {
      showError('');
      phone.call(el.dialInput.value);
    } catch (err) {
      showError(err.message);
    }
  });
  el.answer.addEventListener('click', () => phone?.answer());
  el.reject.addEventListener('click', () => phone?.reject());
  el.hangup.addEventListener('click', () => phone?.hangup());
  el.msgForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const to = el.msgTo.value;
    const text = el.msgInput.value;
    try {
      showError('');
      const sending = phone.sendMessage(to, text);
      el.msgInput.value = '';
      const uri = await sending;
      logMessage('out', uri, text);
    } catch (err) {
      const who = err.uri || to;
      logMessage('out', who, `${text} (not delivered)`, true);
      showError(err.cause ? `The message to ${who} was not delivered: ${CAUSE_TEXT[err.cause]?.(who) || err.cause}` : err.message);
    }
  });
}

async function main() {
  bindUi();
  showSignedIn(false);
  setRegistration('signedout');
  try {
    cfg = await loadConfig();
  } catch (err) {
    showError(`The web phone cannot start: ${err.message}.`);
    return;
  }
  el.login.disabled = false;
  if (!isCallback()) return;
  setRegistration('signingin');
  try {
    tokens = await finishSignIn(cfg);
  } catch (err) {
    setRegistration('signedout');
    showError(err instanceof SignInError ? err.message : 'Sign-in failed. Please sign in again.');
    return;
  }
  startPhone();
}

main();
