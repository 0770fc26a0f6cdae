// Microphone, speaker and camera choice. The choice is kept (by device id, not a secret) so a
// reload uses the same devices; a device that is gone falls back to the default.
const KEY = 'imsgw.devices';

function saved() {
  try { return JSON.parse(localStorage.getItem(KEY) || '{}') || {}; } catch { return {}; }
}

export class Devices {
  constructor() {
    this.choice = saved(); // { audioinput, audiooutput, videoinput }
    this.list = [];
  }

  /** Lists the devices (labels appear once the page has used the microphone). */
  async refresh() {
    this.list = navigator.mediaDevices ? await navigator.mediaDevices.enumerateDevices() : [];
    return this.list;
  }

  of(kind) { return this.list.filter((d) => d.kind === kind && d.deviceId); }

  choose(kind, deviceId) {
    this.choice[kind] = deviceId || '';
    localStorage.setItem(KEY, JSON.stringify(this.choice));
  }

  /** getUserMedia constraints for the chosen devices. */
  constraints() {
    const pick = (kind) => (this.choice[kind] && this.of(kind).some((d) => d.deviceId === this.choice[kind])
      ? { deviceId: { exact: this.choice[kind] } } : true);
    return { audio: pick('audioinput'), video: pick('videoinput') };
  }

  /** Routes an audio element to the chosen speaker where the browser can (setSinkId). */
  async route(audioEl) {
    const id = this.choice.audiooutput;
    if (typeof audioEl.setSinkId !== 'function') return false;
    await audioEl.setSinkId(id && this.of('audiooutput').some((d) => d.deviceId === id) ? id : '');
    return true;
  }

  /** Moves a live call to the newly chosen microphone: the sender's track is replaced in place
   * (no re-INVITE needed, the codec and the stream stay). */
  async switchMicrophone(pc) {
    const sender = pc && pc.getSenders().find((s) => s.track && s.track.kind === 'audio');
    if (!sender) return;
    const stream = await navigator.mediaDevices.getUserMedia({ audio: this.constraints().audio });
    const [track] = stream.getAudioTracks();
    track.enabled = sender.track.enabled; // a muted call stays muted
    const old = sender.track;
    await sender.replaceTrack(track);
    old.stop();
  }
}
