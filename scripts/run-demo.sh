#!/usr/bin/env bash
# make run: starts WAF, IMS stub and gateway with the demo defaults, prints the URL and the demo
# credentials, and stops all three on Ctrl-C (no process is left behind).
# MEDIA=1 (make run MEDIA=1) also starts rtpengine as the media relay (eIMS-AGW, docs/media.md)
# with its ng port on 127.0.0.1:2223 and RTP ports 30000-30999 on MEDIA_IP (default 127.0.0.1:
# browsers and phones on this host; give a LAN address to reach phones on the LAN).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
data=run
mkdir -p "$data"
chmod 700 "$data"

waf="$build/waf/imsgw-waf"
stub="$build/ims-stub/imsgw-ims-stub"
gateway="$build/gateway/imsgw-gateway"
creds="$data/demo-credentials.txt"

# Provision the demo users once; their passwords are kept (mode 0600) so later runs print them.
if [ ! -s "$creds" ]; then
  umask 077
  : >"$creds"
  for user in alice bob; do
    pw=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
    "$waf" --data-dir "$data/waf" user add "$user" --impu "sip:$user@ims.test" --password-stdin <<<"$pw" >/dev/null
    echo "$user $pw" >>"$creds"
  done
fi

# OAuth clients, once: the WIC (public, PKCE, JWT) and the gateway (confidential: introspection
# and redeeming codes from REGISTER bodies). The gateway's secret goes to a 0600 file it reads.
if ! "$waf" --data-dir "$data/waf" client list | grep -q '^wic	'; then
  "$waf" --data-dir "$data/waf" client add wic --public \
    --redirect-uri http://127.0.0.1:8080/ --redirect-uri http://localhost:8080/ \
    --scope "ims:register ims:call ims:message" --token-format jwt
fi
if ! "$waf" --data-dir "$data/waf" client list | grep -q '^gateway	' || [ ! -s "$data/gateway-client-secret" ]; then
  "$waf" --data-dir "$data/waf" client del gateway 2>/dev/null || true
  "$waf" --data-dir "$data/waf" client add gateway --confidential \
    --redirect-uri http://127.0.0.1:8080/ --secret-file "$data/gateway-client-secret"
fi
gateway_args=(--waf-client-id gateway --waf-client-secret-file "$data/gateway-client-secret")
media=${MEDIA:-0}
media_ip=${MEDIA_IP:-127.0.0.1}
if [ "$media" = 1 ]; then
  command -v rtpengine >/dev/null || { echo "MEDIA=1 needs rtpengine (apt-get install rtpengine-daemon)" >&2; exit 1; }
  gateway_args+=(--media rtpengine --media-relay 127.0.0.1:2223)
fi

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  echo "imsgw demo stopped."
}
trap stop INT TERM EXIT

"$waf" --data-dir "$data/waf" & pids+=($!)
"$stub" & pids+=($!)
if [ "$media" = 1 ]; then
  # Userspace forwarding (no kernel module), in the foreground so Ctrl-C stops it too.
  rtpengine --config-file=none -f -E --table=-1 -i "$media_ip" -n 127.0.0.1:2223 \
    -m 30000 -M 30999 -d 0 -L 5 --num-threads=2 & pids+=($!)
fi
# The gateway fetches the WAF's keys at start: let the WAF come up first (bounded wait).
for _ in $(seq 50); do curl -sf http://127.0.0.1:9090/healthz >/dev/null 2>&1 && break; sleep 0.1; done
"$gateway" "${gateway_args[@]}" & pids+=($!)

sleep 1
for pid in "${pids[@]}"; do
  kill -0 "$pid" 2>/dev/null || { echo "a daemon failed to start (see above)" >&2; exit 1; }
done
cat <<MSG

  imsgw demo is running.
  Open:      http://127.0.0.1:8080/
  WAF:       http://127.0.0.1:9090/  (issuer; phone codes at /code, devices at /device)
  IMS stub:  sip:127.0.0.1:5060 (UDP + TCP)
  Media:     $([ "$media" = 1 ] && echo "rtpengine on $media_ip (RTP 30000-30999, ng 127.0.0.1:2223)" || echo "off (browser to browser only; make run MEDIA=1 for IMS phones)")
  Demo users (IMPU sip:NAME@ims.test):
$(sed 's/^\([^ ]*\) \(.*\)$/    \1  password: \2/' "$creds")

  Press Ctrl-C to stop them all.

MSG
wait -n "${pids[@]}" || true
