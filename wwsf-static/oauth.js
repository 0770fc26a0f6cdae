// OAuth 2.0 public client: authorization code + PKCE S256 (RFC 6749, 7636, 9700). Tokens live in
// memory only. The PKCE verifier and state survive the redirect round trip in sessionStorage and
// are deleted as soon as the callback is read.
import { dpopProof } from './dpop.js';

const PENDING = 'imsgw.oauth.pending';

const b64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const randomString = () => b64url(crypto.getRandomValues(new Uint8Array(32)));

/** An error whose message is fit to show to the user as is. */
export class SignInError extends Error {}

export async function startSignIn(cfg) {
  const verifier = randomString();
  const state = randomString();
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state }));
  const url = new URL(`${cfg.issuer}/authorize`);
  url.search = new URLSearchParams({
    response_type: 'code', client_id: cfg.clientId, redirect_uri: cfg.redirectUri, scope: cfg.scope,
    state, code_challenge: b64url(digest), code_challenge_method: 'S256',
  }).toString();
  location.assign(url.toString());
}

/** True when the page was opened as the OAuth redirect (code or error in the query). */
export const isCallback = () => {
  const q = new URLSearchParams(location.search);
  return q.has('code') || q.has('error');
};

/** Reads the callback, removes it from the address bar and history, redeems the code. */
export async function finishSignIn(cfg) {
  const q = new URLSearchParams(location.search);
  // The code must not stay in the URL (history, bookmarks, Referer): drop it first.
  history.replaceState(null, '', location.pathname);
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || 'null');
  sessionStorage.removeItem(PENDING);
  if (!pending || !q.get('state') || q.get('state') !== pending.state) {
    throw new SignInError('Sign-in failed: the answer from the sign-in page does not belong to this sign-in attempt. Please sign in again.');
  }
  if (q.has('error')) {
    const why = q.get('error') === 'access_denied' ? 'access was refused' : `the sign-in server said "${q.get('error')}"`;
    throw new SignInError(`Sign-in failed: ${why}. Please sign in again.`);
  }
  // RFC 9207: when the server names itself, it must be the server we sent the user to.
  if (q.has('iss') && q.get('iss').replace(/\/+$/, '') !== cfg.issuer) {
    throw new SignInError('Sign-in failed: the answer came from a different sign-in server. Please sign in again.');
  }
  return tokenRequest(cfg, {
    grant_type: 'authorization_code', code: q.get('code'), redirect_uri: cfg.redirectUri,
    client_id: cfg.clientId, code_verifier: pending.verifier,
  });
}

export function refresh(cfg, refreshToken) {
  return tokenRequest(cfg, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: cfg.clientId });
}

/** RFC 7009; best effort: signing out must work even when the server is unreachable. */
export async function revoke(cfg, refreshToken) {
  if (!refreshToken) return;
  try {
    await fetch(`${cfg.issuer}/revoke`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: refreshToken, token_type_hint: 'refresh_token', client_id: cfg.clientId }),
    });
  } catch { /* nothing more to do: the tokens are dropped from memory anyway */ }
}

let wafNonce = null; // the WAF's last DPoP-Nonce (RFC 9449 §8)

/** POST /token with a DPoP proof, so the tokens are bound to this browser's key; when the WAF
 * asks for its nonce, once more with it. */
async function tokenRequest(cfg, form) {
  let res;
  let body;
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      const dpop = await dpopProof('POST', `${cfg.issuer}/token`, { nonce: wafNonce });
      res = await fetch(`${cfg.issuer}/token`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', DPoP: dpop },
        body: new URLSearchParams(form), cache: 'no-store',
      });
      wafNonce = res.headers.get('DPoP-Nonce') || wafNonce;
      body = await res.json();
      if (!(res.status === 400 && body?.error === 'use_dpop_nonce')) break;
    }
  } catch {
    throw new SignInError('The sign-in server could not be reached or gave an unreadable answer. Please try again.');
  }
  if (!res.ok) {
    const code = body && typeof body.error === 'string' ? body.error : `HTTP ${res.status}`;
    throw new SignInError(code === 'invalid_grant'
      ? 'The sign-in server did not accept this sign-in (it expired, was used already or was not made for this page). Please sign in again.'
      : `The sign-in server refused the request (${code}). Please sign in again.`);
  }
  return checkTokens(body);
}

/** Validates a token response (RFC 6749 §5.1) and returns { access, refresh, expiresIn, impu }. */
export function checkTokens(body) {
  const bad = (what) => new SignInError(`Sign-in failed: the sign-in server's answer is incomplete (${what}). Please sign in again.`);
  if (!body || typeof body.access_token !== 'string' || !body.access_token) throw bad('no access token');
  const type = typeof body.token_type === 'string' ? body.token_type.toLowerCase() : '';
  if (type !== 'bearer' && type !== 'dpop') throw bad('not a Bearer or DPoP token');
  if (!Number.isFinite(body.expires_in) || body.expires_in <= 0) throw bad('no lifetime');
  const impu = impuOf(body.access_token);
  if (!impu) throw bad('no SIP identity in the token');
  return { access: body.access_token, refresh: typeof body.refresh_token === 'string' ? body.refresh_token : null,
    expiresIn: body.expires_in, impu, type: type === 'dpop' ? 'DPoP' : 'Bearer' };
}

/** The IMPU for the REGISTER's To: the `impu` claim of the gateway's RFC 9068 token. Only used to
 * address the REGISTER; the network's answer (P-Associated-URI) is what the page shows. */
function impuOf(jwt) {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(atob(part));
    const impu = Array.isArray(claims.impu) ? claims.impu[0] : claims.impu;
    return typeof impu === 'string' && /^sips?:[^@\s]+@[^\s]+$/.test(impu) ? impu : null;
  } catch {
    return null;
  }
}

/** Parses `WWW-Authenticate: Bearer k="v", ...` (or DPoP, RFC 9449 §7.1) into an object with
 * its scheme (null if neither). */
export function parseBearerChallenge(value) {
  const m = /^\s*(Bearer|DPoP)\b(.*)$/i.exec(value || '');
  if (!m) return null;
  const params = { scheme: m[1] };
  for (const p of m[2].matchAll(/([A-Za-z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) {
    params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
  }
  return params;
}
