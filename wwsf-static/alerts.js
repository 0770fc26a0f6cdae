// Telling the user about a call when they are not looking: a system notification when the tab is
// hidden (Notification API, after the user allowed it) and a ringtone made with WebAudio.
export function notificationsState() {
  return typeof Notification === 'undefined' ? 'unsupported' : Notification.permission;
}

/** Asks for permission (only from a click: browsers ignore it otherwise). */
export async function allowNotifications() {
  if (typeof Notification === 'undefined') return 'unsupported';
  return Notification.requestPermission();
}

/** A notification for an incoming call while the page is hidden; clicking it shows the page.
 * Returns the Notification (closed by the caller when the call is answered or gone) or null. */
export function notifyIncoming(peer) {
  if (!document.hidden || notificationsState() !== 'granted') return null;
  const n = new Notification('Incoming call', { body: `${peer} is calling`, tag: 'imsgw-incoming', requireInteraction: true });
  n.onclick = () => { window.focus(); n.close(); };
  return n;
}

/** A two-tone ring (400 + 450 Hz, 0.4 s on / 0.2 s / 0.4 s on / 2 s off, the UK cadence). */
export class Ringtone {
  constructor() { this.ctx = null; this.timer = null; }

  get playing() { return this.timer !== null; }

  start() {
    if (this.timer) return;
    try {
      this.ctx ||= new AudioContext();
    } catch {
      return; // no WebAudio: the visual alert stays
    }
    this.ctx.resume().catch(() => {});
    const burst = (at) => {
      const gain = this.ctx.createGain();
      gain.gain.value = 0.15;
      gain.connect(this.ctx.destination);
      for (const hz of [400, 450]) {
        const osc = this.ctx.createOscillator();
        osc.frequency.value = hz;
        osc.connect(gain);
        osc.start(at);
        osc.stop(at + 0.4);
      }
    };
    const ring = () => { const t = this.ctx.currentTime; burst(t); burst(t + 0.6); };
    ring();
    this.timer = setInterval(ring, 3000);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.ctx?.suspend().catch(() => {});
  }
}
