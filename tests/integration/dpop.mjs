// DPoP (RFC 9449) for the tests: a P-256 key, its RFC 7638 thumbprint and proofs that can be made
// wrong in exactly one way each.
import crypto from 'node:crypto';

const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

export function thumbprint(jwk) {
  const canon = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return crypto.createHash('sha256').update(canon).digest('base64url');
}

export function dpopKey() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
  const jwk = { kty, crv, x, y };
  return { privateKey, jwk, jkt: thumbprint(jwk) };
}

export const ath = (token) => crypto.createHash('sha256').update(token).digest('base64url');

/** A compact proof; claims and header members can be overridden (undefined drops one). */
export function proof(key, { htm, htu, nonce, accessToken, iat = Math.floor(Date.now() / 1000),
  jti = crypto.randomUUID(), header = {}, claims = {} } = {}) {
  const h = { typ: 'dpop+jwt', alg: 'ES256', jwk: key.jwk, ...header };
  const c = { jti, htm, htu, iat, ...(nonce ? { nonce } : {}), ...(accessToken ? { ath: ath(accessToken) } : {}), ...claims };
  const input = `${b64(h)}.${b64(c)}`;
  const sig = crypto.sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}
