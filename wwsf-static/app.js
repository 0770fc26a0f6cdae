// Wires sign-in (oauth.js), the SIP phone (phone.js) and the page (ui.js). The session state —
// tokens included — lives in this module's memory only: a reload means signing in again.
import { loadConfig } from './config.js';
import { startSignIn, isCallback, finishSignIn, refresh, revoke, SignInError } from './oauth.js';
import { Phone } from './phone.js';
import { forgetDpopKey } from './dpop.js';
import { el, showError, showSignedIn, setRegistration, announce, renderMessages, renderThreads, setUnread,
  renderHistory, renderDevices } from './ui.js';
import { CallView, causeText } from './callview.js';
import { History } from './history.js';
import { Threads } from './messages.js';
import { Devices } from './devices.js';
import { notificationsState, allowNotifications } from './alerts.js';

let cfg = null;
let tokens = null; // { access, refresh, expiresIn, impu, type: 'Bearer' or 'DPoP' }
let phone = null;
let refreshTimer = null;
let history = null;
const threads = new Threads();
const devices = new Devices();
const calls = new CallView({
  phone: () => phone,
  history: () => history,
  historyChanged: () => showHistory(),
  // Device names are only listed once the page has used the microphone: list them again.
  connected: () => devices.refresh().then(() => renderDevices(devices)).catch(() => {}),
});

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
    await endSession('Your sign-in has expired. Please sign in again.', 'expired');
    return false;
  }
  try {
    const next = await refresh(cfg, tokens.refresh);
    tokens = { ...next, refresh: next.refresh || tokens.refresh };
  } catch (err) {
    await endSession(`Your sign-in expired and could not be renewed. ${err instanceof SignInError ? err.message : ''}`.trim(), 'expired');
    return false;
  }
  scheduleRenewal();
  phone?.renew(tokens.access);
  return true;
}

function startPhone() {
  showSignedIn(true);
  el.identity.textContent = tokens.impu;
  history = new History(tokens.impu);
  showHistory();
  showMessages();
  showNotifyOffer();
  phone = new Phone(cfg, tokens.impu, tokens.access, tokens.expiresIn, {
    registration: (state, detail) => {
      setRegistration(state, detail);
      if (state === 'registered' && detail) el.identity.textContent = detail;
      if (state === 'registered') showError('');
    },
    challenge: () => renewToken(),
    session: (event, d) => calls.onSession(event, d),
    message: (dir, peer, text) => received(peer, text),
    malformed: (bytes) => showError(`The network sent a message this phone could not read (${bytes} bytes); it was ignored.`),
    error: showError,
  }, tokens.type);
  phone.media = () => devices.constraints();
  phone.start();
  scheduleRenewal();
  devices.refresh().then(() => renderDevices(devices)).catch(() => {});
}

function showHistory() {
  if (!history) return;
  renderHistory(history, {
    onCall: (peer) => { el.dialInput.value = peer; el.dialForm.requestSubmit(); },
    onMessage: (peer) => { openThread(peer); el.msgInput.focus(); },
  });
}

function showMessages() {
  renderThreads(threads.threads, threads.open, (peer) => openThread(peer));
  renderMessages(threads.visible());
  setUnread(threads.unread);
}

function openThread(peer) {
  threads.show(peer);
  if (peer) el.msgTo.value = peer;
  showMessages();
  el.threads.querySelector(`[aria-current="true"]`)?.focus();
}

function received(peer, text) {
  const seen = !document.hidden && (threads.open === null || threads.open === peer);
  threads.add(peer, 'in', text, 'received', { seen });
  history?.touch(peer);
  showHistory();
  showMessages();
  announce(`Message from ${peer}: ${text}`);
}

function showNotifyOffer() {
  el.notifyLine.hidden = notificationsState() !== 'default';
}

/** Signs out locally (tokens dropped, phone stopped); `reason` is shown as an error if given. */
async function endSession(reason, state = 'signedout') {
  clearTimeout(refreshTimer);
  calls.reset();
  threads.clear();
  history = null;
  const p = phone;
  phone = null;
  const refreshToken = tokens?.refresh;
  tokens = null;
  if (p) await p.stop();
  await revoke(cfg, refreshToken);
  await forgetDpopKey(); // what was bound to it is dropped; the next sign-in makes a new key
  showSignedIn(false);
  setRegistration(state);
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
      phone.call(el.dialInput.value, { video: el.videoToggle.checked });
    } catch (err) {
      showError(err.message);
    }
  });
  el.msgForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const text = el.msgInput.value;
    let uri;
    try {
      showError('');
      uri = phone.target(el.msgTo.value);
    } catch (err) {
      showError(err.message);
      return;
    }
    // A thread that is open follows the recipient (the "All" view stays as it is).
    if (threads.open && threads.open !== uri) threads.show(uri);
    const item = threads.add(uri, 'out', text, 'sending');
    history?.touch(uri);
    showMessages();
    el.msgInput.value = '';
    try {
      await phone.sendMessage(uri, text);
      threads.setState(item, 'delivered');
    } catch (err) {
      threads.setState(item, 'failed');
      const why = err.cause ? causeText(err.cause, uri) || err.cause : err.message;
      showError(`The message to ${uri} was not delivered: ${why}`);
      announce(`Not delivered to ${uri}`);
    }
    showMessages();
    showHistory();
  });
  el.clearHistory.addEventListener('click', () => { history?.clear(); showHistory(); });
  el.allowNotify.addEventListener('click', async () => { await allowNotifications(); showNotifyOffer(); });
  for (const sel of el.selects) {
    sel.addEventListener('change', async () => {
      devices.choose(sel.dataset.kind, sel.value);
      try {
        if (sel.dataset.kind === 'audiooutput') await devices.route(el.remoteAudio);
        if (sel.dataset.kind === 'audioinput') await devices.switchMicrophone(calls.shown?.connection);
      } catch (err) {
        showError(`That device could not be used: ${err.message}`);
      }
    });
  }
  navigator.mediaDevices?.addEventListener?.('devicechange', () => devices.refresh().then(() => renderDevices(devices)));
  window.addEventListener('offline', () => { if (phone) setRegistration('offline'); });
  window.addEventListener('online', () => phone?.networkBack());
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && threads.open) { threads.show(threads.open); showMessages(); }
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
