// The local call history and the recent contacts derived from it and from messages. Kept in
// localStorage per signed-in identity (no token, only peers, times and outcomes); bounded.
const MAX_CALLS = 100;
const MAX_CONTACTS = 20;
const key = (impu, what) => `imsgw.${what}.${impu}`;

function load(k) {
  try {
    const v = JSON.parse(localStorage.getItem(k) || '[]');
    return Array.isArray(v) ? v : [];
  } catch {
    return []; // a damaged entry is dropped, not fatal
  }
}

/** outcome: 'answered' | 'missed' | 'rejected' | 'failed'; direction: 'in' | 'out'. */
export class History {
  constructor(impu) {
    this.impu = impu;
    this.calls = load(key(impu, 'history')).filter((e) => e && typeof e.peer === 'string');
    this.peers = load(key(impu, 'contacts')).filter((p) => typeof p === 'string');
  }

  save() {
    localStorage.setItem(key(this.impu, 'history'), JSON.stringify(this.calls));
    localStorage.setItem(key(this.impu, 'contacts'), JSON.stringify(this.peers));
  }

  addCall({ peer, direction, outcome, startedAt, seconds }) {
    this.calls.unshift({ peer, direction, outcome, at: startedAt, seconds });
    this.calls.length = Math.min(this.calls.length, MAX_CALLS);
    this.touch(peer);
  }

  /** A peer we talked or wrote with moves to the top of the recent contacts. */
  touch(peer) {
    this.peers = [peer, ...this.peers.filter((p) => p !== peer)].slice(0, MAX_CONTACTS);
    this.save();
  }

  clear() {
    this.calls = [];
    this.peers = [];
    this.save();
  }
}

/** "Outgoing call to …, 1 min 5 s" style line for the history list. */
export function describeCall(e) {
  const time = new Date(e.at).toLocaleString();
  const what = {
    'in:answered': `Incoming call from ${e.peer}`,
    'in:missed': `Missed call from ${e.peer}`,
    'in:rejected': `Rejected call from ${e.peer}`,
    'out:answered': `Outgoing call to ${e.peer}`,
    'out:missed': `Outgoing call to ${e.peer}, not answered`,
    'out:rejected': `Outgoing call to ${e.peer}, declined`,
    'out:failed': `Outgoing call to ${e.peer}, failed`,
    'in:failed': `Incoming call from ${e.peer}, failed`,
  }[`${e.direction}:${e.outcome}`] || `Call with ${e.peer}`;
  return e.outcome === 'answered' ? `${what}, ${formatDuration(e.seconds)} (${time})` : `${what} (${time})`;
}

export function formatDuration(s) {
  const m = Math.floor(s / 60);
  return m ? `${m} min ${s % 60} s` : `${s} s`;
}
