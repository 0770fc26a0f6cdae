// rtpengine (Debian's rtpengine-daemon, userspace forwarding) for the media tests: started on
// loopback with its own ng port and RTP port range, and a tiny ng client (bencode over UDP) to
// ask it what it holds. delete-delay 0: a deleted call disappears from `list` at once.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import crypto from 'node:crypto';
import { freePort, sleep } from './harness.mjs';

export function bencode(v) {
  if (typeof v === 'number') return Buffer.from(`i${Math.trunc(v)}e`);
  if (typeof v === 'string' || Buffer.isBuffer(v)) {
    const b = Buffer.from(v);
    return Buffer.concat([Buffer.from(`${b.length}:`), b]);
  }
  if (Array.isArray(v)) return Buffer.concat([Buffer.from('l'), ...v.map(bencode), Buffer.from('e')]);
  return Buffer.concat([Buffer.from('d'), ...Object.entries(v).flatMap(([k, x]) => [bencode(k), bencode(x)]), Buffer.from('e')]);
}

export function bdecode(buf) {
  let i = 0;
  const s = buf.toString('latin1');
  const value = () => {
    const c = s[i];
    if (c === 'i') { const e = s.indexOf('e', i); const n = Number(s.slice(i + 1, e)); i = e + 1; return n; }
    if (c === 'l') { i++; const out = []; while (s[i] !== 'e') out.push(value()); i++; return out; }
    if (c === 'd') { i++; const out = {}; while (s[i] !== 'e') { const k = value(); out[k] = value(); } i++; return out; }
    const colon = s.indexOf(':', i);
    const n = Number(s.slice(i, colon));
    const str = buf.subarray(colon + 1, colon + 1 + n).toString('utf8');
    i = colon + 1 + n;
    return str;
  };
  return value();
}

export class Rtpengine {
  static async start() {
    const r = new Rtpengine();
    r.ngPort = await freePort();
    r.portMin = 20000 + 200 * Math.floor(Math.random() * 200);
    r.log = '';
    r.args = ['--config-file=none', '-f', '-E', '--table=-1', '-i', '127.0.0.1', '-n', `127.0.0.1:${r.ngPort}`,
      '-m', String(r.portMin), '-M', String(r.portMin + 199), '-L', process.env.IMSGW_RTPENGINE_LOG || '5', '-d', '0', '--num-threads=2',
      '--media-num-threads=1', '--no-log-timestamps'];
    await r.spawn();
    return r;
  }
  async spawn() {
    this.proc = spawn('rtpengine', this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout.on('data', (d) => { this.log += d; });
    this.proc.stderr.on('data', (d) => { this.log += d; });
    this.exited = new Promise((resolve) => this.proc.on('exit', resolve));
    const until = Date.now() + 10000;
    while (Date.now() < until) {
      if ((await this.ng({ command: 'ping' }, 300).catch(() => null))?.result === 'pong') return;
      await sleep(100);
    }
    throw new Error(`rtpengine did not start:\n${this.log.slice(-2000)}`);
  }
  ng(dict, timeoutMs = 2000) {
    return new Promise((resolve, reject) => {
      const sock = dgram.createSocket('udp4');
      const cookie = crypto.randomBytes(6).toString('hex');
      const t = setTimeout(() => { sock.close(); reject(new Error('ng timeout')); }, timeoutMs);
      sock.on('error', () => {});
      sock.on('message', (m) => {
        const sp = m.indexOf(0x20);
        if (m.subarray(0, sp).toString() !== cookie) return;
        clearTimeout(t);
        sock.close();
        resolve(bdecode(m.subarray(sp + 1)));
      });
      sock.send(Buffer.concat([Buffer.from(`${cookie} `), bencode(dict)]), this.ngPort, '127.0.0.1');
    });
  }
  async calls() { return (await this.ng({ command: 'list', limit: 1000 })).calls || []; }
  /** Waits until the relay holds n calls; returns the list. */
  async callsReach(n, timeoutMs = 5000) {
    const until = Date.now() + timeoutMs;
    let calls;
    while (Date.now() < until) {
      calls = await this.calls();
      if (calls.length === n) return calls;
      await sleep(50);
    }
    throw new Error(`relay holds ${calls.length} calls, not ${n}: ${calls.join(', ')}`);
  }
  async stop() {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
  }
}
