#!/usr/bin/env bash
# Installs the Debian packages the tests need when they are missing. The tests never use a
# system broker: they start private instances on free loopback ports.
set -euo pipefail

need=()
command -v mosquitto >/dev/null 2>&1 || [[ -x /usr/sbin/mosquitto ]] || need+=(mosquitto)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# the history tests write to a real time-series server (InfluxDB's write API)
command -v victoria-metrics >/dev/null 2>&1 || need+=(victoria-metrics)
# the agenda test looks at the page in a real headless browser
command -v chromium >/dev/null 2>&1 || need+=(chromium fonts-dejavu-core)
# the backup tests encrypt and decrypt with the real age tool
command -v age >/dev/null 2>&1 || need+=(age)

if ((${#need[@]} == 0)); then
  exit 0
fi
echo "Installing for the tests: ${need[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "Need root (or sudo) to install: ${need[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
