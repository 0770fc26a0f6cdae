#!/bin/sh
# imsgw container entrypoint: IMSGW_ROLE = waf | gateway | ims-stub. Settings come from the
# mounted JSON (/etc/imsgw/<role>.json) and environment; extra arguments are passed on.
# IMSGW_DEMO=1 (the compose demo): the WAF creates a demo certificate, users and OAuth clients
# on first start, in /var/lib/imsgw/demo (a volume the gateway mounts read-only).
set -eu
demo=/var/lib/imsgw/demo
conf=/etc/imsgw/${IMSGW_ROLE}.json
[ -f "$conf" ] && set -- --config "$conf" "$@"

# Waits (bounded) for a file or a name another container provides.
wait_for() {
  i=0
  until eval "$1"; do
    i=$((i + 1))
    [ "$i" -le 120 ] || { echo "imsgw-entrypoint: gave up waiting for: $2" >&2; exit 1; }
    sleep 0.5
  done
}
ip_of() { getent hosts "$1" | awk '{print $1; exit}'; }

demo_waf() {
  umask 077
  if [ ! -s "$demo/cert.pem" ]; then
    # A self-signed demo certificate for every name the stack is reached by; never committed.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
      -subj "/CN=imsgw demo" -keyout "$demo/key.pem" -out "$demo/cert.tmp" \
      -addext "subjectAltName=${IMSGW_DEMO_SAN:-DNS:localhost,IP:127.0.0.1,DNS:waf,DNS:gateway}" \
      2>/dev/null
    chmod 0644 "$demo/cert.tmp" && mv "$demo/cert.tmp" "$demo/cert.pem"
  fi
  data="--data-dir /var/lib/imsgw/waf"
  if [ ! -s /var/lib/imsgw/waf/demo-credentials.txt ]; then
    : >/var/lib/imsgw/waf/demo-credentials.txt
    for user in alice bob; do
      pw=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
      echo "$pw" | imsgw-waf $data user add "$user" --impu "sip:$user@ims.test" --password-stdin >/dev/null
      echo "$user $pw" >>/var/lib/imsgw/waf/demo-credentials.txt
    done
  fi
  origin=${IMSGW_PUBLIC_URL:-https://localhost:8443}
  imsgw-waf $data client list | grep -q '^wic	' ||
    imsgw-waf $data client add wic --public --redirect-uri "$origin/" \
      --scope "ims:register ims:call ims:message" --token-format jwt >/dev/null
  if [ ! -s "$demo/gateway-client-secret" ]; then
    imsgw-waf $data client del gateway 2>/dev/null || true
    imsgw-waf $data client add gateway --confidential --redirect-uri "$origin/" \
      --secret-file "$demo/gateway-client-secret.tmp" >/dev/null
    mv "$demo/gateway-client-secret.tmp" "$demo/gateway-client-secret"
  fi
}

case "$IMSGW_ROLE" in
waf)
  [ "${IMSGW_DEMO:-0}" = 1 ] && demo_waf
  exec imsgw-waf "$@"
  ;;
gateway)
  if [ "${IMSGW_DEMO:-0}" = 1 ]; then
    wait_for '[ -s $demo/gateway-client-secret ] && [ -s $demo/cert.pem ]' "the WAF's demo files"
  fi
  # The IMS core's addresses: the gateway accepts IMS-side requests from these IPs only.
  if [ -n "${IMSGW_IMS_HOST:-}" ]; then
    wait_for '[ -n "$(ip_of $IMSGW_IMS_HOST)" ]' "a DNS entry for $IMSGW_IMS_HOST"
    set -- "$@" --ims-peers "$(ip_of "$IMSGW_IMS_HOST")"
  fi
  exec imsgw-gateway "$@"
  ;;
ims-stub)
  if [ -n "${IMSGW_GATEWAY_HOST:-}" ]; then
    wait_for '[ -n "$(ip_of $IMSGW_GATEWAY_HOST)" ]' "a DNS entry for $IMSGW_GATEWAY_HOST"
    set -- "$@" --trusted-peers "$(ip_of "$IMSGW_GATEWAY_HOST")"
  fi
  exec imsgw-ims-stub "$@"
  ;;
*)
  echo "imsgw-entrypoint: IMSGW_ROLE must be waf, gateway or ims-stub" >&2
  exit 2
  ;;
esac
