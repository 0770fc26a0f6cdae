// DPoP (RFC 9449) in the browser: one ECDSA P-256 key per browser profile, made by WebCrypto as
// non-extractable (its private half can sign but never be read, not even by this page's own
// scripts) and kept in IndexedDB so a reload keeps the same key and its bound tokens. Proofs for
// the WAF (/token) and for every REGISTER (docs/dpop-sip.md).
const DB = 'imsgw-dpop';
const STORE = 'keys';
const ID = 'session-key';

const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
  .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const b64json = (o) => b64url(new TextEncoder().encode(JSON.stringify(o)));

function idb(mode, fn) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => { open.result.close(); resolve(req.result); };
      tx.onerror = () => { open.result.close(); reject(tx.error); };
    };
  });
}

let keyPromise = null;

/** The key pair ({ privateKey, publicKey, jwk, jkt }), made on first use. */
export function dpopKey() {
  keyPromise ||= (async () => {
    let pair = await idb('readonly', (s) => s.get(ID)).catch(() => null);
    if (!pair) {
      pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
      await idb('readwrite', (s) => s.put(pair, ID)).catch(() => {}); // no IndexedDB: this page only
    }
    const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', pair.publicKey); // the public half
    const jwk = { crv, kty, x, y };
    const jkt = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify(jwk))));
    return { privateKey: pair.privateKey, jwk, jkt };
  })();
  return keyPromise;
}

/** Forgets the key (sign-out): the tokens bound to it are worthless from now on. */
export async function forgetDpopKey() {
  keyPromise = null;
  await idb('readwrite', (s) => s.delete(ID)).catch(() => {});
}

/** A proof for htm at htu; with nonce (the server's) and accessToken (its hash goes in ath). */
export async function dpopProof(htm, htu, { nonce, accessToken } = {}) {
  const { privateKey, jwk } = await dpopKey();
  const claims = { jti: b64url(crypto.getRandomValues(new Uint8Array(16))), htm, htu, iat: Math.floor(Date.now() / 1000) };
  if (nonce) claims.nonce = nonce;
  if (accessToken) claims.ath = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(accessToken)));
  const input = `${b64json({ typ: 'dpop+jwt', alg: 'ES256', jwk })}.${b64json(claims)}`;
  // WebCrypto's ECDSA signature is already R‖S, the JOSE form.
  const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, new TextEncoder().encode(input));
  return `${input}.${b64url(sig)}`;
}
