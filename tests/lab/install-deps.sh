#!/bin/sh
# Install the real DNS servers the lab starts, from Debian, when they are missing.
# Services are not started by the packages (policy-rc.d): the lab starts its own
# processes on 127.0.0.x and must not find a system named/pdns/knot on port 53.
set -e
PACKAGES="pdns-server pdns-backend-sqlite3 bind9 bind9-utils bind9-dnsutils knot knot-dnsutils unbound iproute2 sqlite3"
missing=""
for bin in pdns_server named knotd knotc unbound nsupdate ip; do
    command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || missing="$missing $bin"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "missing:$missing; run as root or: sudo apt-get install $PACKAGES" >&2
    exit 1
fi
echo "installing DNS servers for the lab:$missing"
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends $PACKAGES >/dev/null
if command -v systemctl >/dev/null 2>&1; then
    systemctl stop named bind9 pdns knot unbound 2>/dev/null || true
fi
