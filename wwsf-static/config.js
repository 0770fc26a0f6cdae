// Loads config.json served next to the page. The redirect URI and the SIP WebSocket URL derive
// from the page's own origin, so the same files work on any host and port (docs/wic.md).
const DEFAULTS = {
  clientId: 'wic',
  scope: 'ims:register ims:call ims:message',
  sipDomain: 'ims.test',
  iceServers: [],
  registerExpires: 600,
  reconnectBaseSeconds: 30,
};

export async function loadConfig() {
  const res = await fetch('config.json', { cache: 'no-store' });
  if (!res.ok) throw new Error(`the page's settings (config.json) could not be loaded (HTTP ${res.status})`);
  const cfg = { ...DEFAULTS, ...(await res.json()) };
  if (typeof cfg.issuer !== 'string' || !/^https?:\/\//.test(cfg.issuer)) {
    throw new Error('the page\'s settings (config.json) do not name the sign-in server ("issuer")');
  }
  cfg.issuer = cfg.issuer.replace(/\/+$/, '');
  cfg.trustedAuthzServers = (cfg.trustedAuthzServers || [cfg.issuer]).map((u) => u.replace(/\/+$/, ''));
  cfg.redirectUri ||= `${location.origin}/`;
  cfg.wsUrl ||= `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/sip`;
  return cfg;
}
