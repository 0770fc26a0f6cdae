// Bench helper: an ES256 key of its own, N access tokens (line i = user bench<i>) written to a
// file, and a JWKS served on loopback for the gateway under test. Stops on SIGTERM.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';

const [port, count, out] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4]];
const issuer = `http://127.0.0.1:${port}`;
const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'bench-1', use: 'sig', alg: 'ES256' };
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const header = b64({ alg: 'ES256', typ: 'at+jwt', kid: 'bench-1' });
const now = Math.floor(Date.now() / 1000);
const lines = [];
for (let i = 0; i < count; i++) {
  const payload = b64({ iss: issuer, sub: `bench-${i}`, aud: 'sip:ims.test', client_id: 'bench',
    iat: now, exp: now + 3600, jti: `bench-${i}-${now}`, scope: 'ims:register ims:call ims:message',
    impi: `bench${i}@ims.test`, impu: [`sip:bench${i}@ims.test`] });
  const sig = crypto.sign('sha256', Buffer.from(`${header}.${payload}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  lines.push(`${header}.${payload}.${sig.toString('base64url')}`);
}
fs.writeFileSync(out, lines.join('\n') + '\n');
const hss = Array.from({ length: count }, (_, i) => ({ impi: `bench${i}@ims.test`, impu: [`sip:bench${i}@ims.test`] }));
fs.writeFileSync(`${out}.hss.json`, JSON.stringify(hss));
// Every JWKS fetch is logged, so the bench can show the gateway fetched it once per worker and
// not again in a storm of new tokens.
const server = http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  if (req.url === '/jwks.json') console.log('jwks fetched');
  res.end(req.url === '/jwks.json' ? JSON.stringify({ keys: [jwk] }) : '{}');
});
server.listen(port, '127.0.0.1', () => console.log('ready'));
// Exit at once: server.close() would wait for the gateway's keep-alive connections.
process.on('SIGTERM', () => process.exit(0));
setTimeout(() => process.exit(0), 15 * 60 * 1000).unref(); // never outlives a bench run
