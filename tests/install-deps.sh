#!/usr/bin/env bash
# Installs every Debian peer the test suite talks to and the Python dev tools.
# Idempotent: a second run only checks. Services are installed but never started by apt;
# the tests start their own instances on loopback or in namespaces they create.
set -euo pipefail

DEBIAN_PKGS=(
  prometheus prometheus-node-exporter prometheus-blackbox-exporter prometheus-snmp-exporter
  prometheus-alertmanager snmpd snmp openssh-server openssh-client fping nftables iproute2
  dnsmasq procps sqlite3 poppler-utils chromium mtr-tiny victoria-metrics
)

missing=()
for p in "${DEBIAN_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # Keep apt from starting the daemons it installs: the tests run their own.
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  $SUDO rm -f /usr/sbin/policy-rc.d
fi

# Stop any copy a package post-install may have started anyway, so ports stay free.
for svc in prometheus prometheus-node-exporter prometheus-blackbox-exporter \
           prometheus-snmp-exporter prometheus-alertmanager snmpd dnsmasq victoria-metrics; do
  pkill -x "$svc" 2>/dev/null || true
done
