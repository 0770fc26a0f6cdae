// WAF load client for `make bench`: refresh-grant tokens/s and sign-ins/s with the configured
// argon2id parameters, on loopback, each phase bounded in time. Prints one line per figure.
import { startWaf, pkce, post, signIn, authorizeUrl, WIC_REDIRECT } from '../tests/integration/waf-helpers.mjs';

const SECONDS = Number(process.env.WAF_BENCH_SECONDS || 5);
const CONCURRENCY = Number(process.env.WAF_BENCH_CONCURRENCY || 8);

async function timed(fn, concurrency) {
  const until = Date.now() + SECONDS * 1000;
  let done = 0, failed = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, async (_, i) => {
    const state = await fn.init(i);
    while (Date.now() < until) {
      if (await fn.step(state)) done++; else failed++;
    }
  }));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return { rate: done / secs, done, failed, secs };
}

async function firstTokens(waf) {
  const { verifier, challenge } = pkce();
  const r = await signIn(waf, authorizeUrl({ code_challenge: challenge, code_challenge_method: 'S256' }),
    'alice', waf.passwords.alice);
  const code = new URL(r.res.headers.get('location')).searchParams.get('code');
  return (await post(waf, '/token', { grant_type: 'authorization_code', code, client_id: 'wic',
    redirect_uri: WIC_REDIRECT, code_verifier: verifier })).json;
}

// Phase 1: refresh grant (cheap hashing, so sign-ins do not dominate set-up).
let waf = await startWaf(['--login-max-failures-ip', '100000']);
try {
  const refresh = await timed({
    init: async () => ({ rt: (await firstTokens(waf)).refresh_token }),
    step: async (s) => {
      const r = await post(waf, '/token', { grant_type: 'refresh_token', refresh_token: s.rt, client_id: 'wic' });
      if (r.status !== 200) return false;
      s.rt = r.json.refresh_token;
      return true;
    },
  }, CONCURRENCY);
  console.log(`waf refresh grant: ${refresh.rate.toFixed(0)} tokens/s (${refresh.done} in ${refresh.secs.toFixed(1)} s, ${CONCURRENCY} clients, ${refresh.failed} failed)`);
} finally {
  await waf.stop();
}

// Phase 2: sign-ins with the daemon's default argon2id cost (t=3, m=64 MiB, p=1) and 2 workers.
waf = await startWaf(['--argon2-t-cost', '3', '--argon2-m-cost-kib', '65536', '--login-max-failures-ip', '100000']);
try {
  // startWaf provisions users with cheap hashes; give alice a hash at the configured cost.
  waf.cli(['--argon2-t-cost', '3', '--argon2-m-cost-kib', '65536', 'user', 'passwd', 'alice', '--password-stdin'],
    `${waf.passwords.alice}\n`);
  const logins = await timed({
    init: async () => ({}),
    step: async () => {
      const r = await signIn(waf, authorizeUrl({ code_challenge: pkce().challenge, code_challenge_method: 'S256' }),
        'alice', waf.passwords.alice);
      return r.status === 303;
    },
  }, 4);
  // While sign-ins saturate the workers, the loop must still answer other requests quickly.
  const t0 = Date.now();
  await fetch(`${waf.issuer}/healthz`);
  console.log(`waf sign-ins (argon2id t=3 m=65536 KiB p=1, 2 workers): ${logins.rate.toFixed(1)} logins/s (${logins.done} in ${logins.secs.toFixed(1)} s, ${logins.failed} failed); /healthz after load ${Date.now() - t0} ms`);
} finally {
  await waf.stop();
}
