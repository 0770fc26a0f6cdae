#!/bin/sh
# Runs a command in a private network and mount namespace: a loopback of its own (the core's fixed
# ports and 127.0.0.2/.3 addresses collide with nothing on the machine) and an /etc/hosts that
# names the core (Kamailio's Diameter peers resolve FQDNs; there is no DNS here). Needs root.
# Exit 77 (skipped) when namespaces cannot be made here.
here=$(cd "$(dirname "$0")" && pwd)
unshare -mn true 2>/dev/null || { echo "in-netns: cannot create namespaces (need root): skipped" >&2; exit 77; }
exec unshare -mn sh -c 'ip link set lo up && mount --bind "$0" /etc/hosts && exec "$@"' "$here/hosts" "$@"
