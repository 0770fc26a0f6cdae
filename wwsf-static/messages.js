// Message threads per peer with each message's delivery state and unread counts. Memory only:
// messages are gone with the page (they are not history a shared browser should keep).
const MAX_PER_THREAD = 200;
const MAX_THREADS = 50;

export class Threads {
  constructor() {
    this.threads = new Map(); // peer → { items: [{ id, dir, text, at, state }], unread }
    this.open = null; // the peer whose thread is on screen, or null for all
    this.nextId = 1;
  }

  thread(peer) {
    let t = this.threads.get(peer);
    if (!t) {
      if (this.threads.size >= MAX_THREADS) this.threads.delete(this.threads.keys().next().value);
      t = { items: [], unread: 0 };
      this.threads.set(peer, t);
    }
    return t;
  }

  /** state: 'received' | 'sending' | 'delivered' | 'failed'. Returns the new item. */
  add(peer, dir, text, state, { seen = false } = {}) {
    const t = this.thread(peer);
    const item = { id: this.nextId++, peer, dir, text, at: Date.now(), state };
    t.items.push(item);
    if (t.items.length > MAX_PER_THREAD) t.items.shift();
    if (dir === 'in' && !seen) t.unread++;
    return item;
  }

  setState(item, state) { item.state = state; }

  /** Opens a thread (null: all); its unread count is cleared. */
  show(peer) {
    this.open = peer;
    if (peer && this.threads.has(peer)) this.threads.get(peer).unread = 0;
  }

  get unread() {
    let n = 0;
    for (const t of this.threads.values()) n += t.unread;
    return n;
  }

  /** Items on screen: the open thread, or every thread in time order. */
  visible() {
    if (this.open) return this.threads.get(this.open)?.items || [];
    return [...this.threads.values()].flatMap((t) => t.items).sort((a, b) => a.id - b.id);
  }

  clear() {
    this.threads.clear();
    this.open = null;
  }
}
