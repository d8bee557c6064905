#!/usr/bin/env bash
# Installs what tests/deploy needs, only when it is missing (safe to run again):
#   Debian: debootstrap (+ the Debian archive keyring) for the converge test, mosquitto and
#           mosquitto-clients to run the rendered broker config, systemd for systemd-analyze.
#   pip:    ansible (ships community.general, community.crypto, ansible.posix),
#           ansible-lint and yamllint, into the venv given as $1 (default .venv).
# apt-get update runs only when a Debian package has to be installed.
set -euo pipefail

VENV="${1:-.venv}"

have() {
  command -v "$1" >/dev/null 2>&1 || [[ -x "/usr/sbin/$1" || -x "/sbin/$1" ]]
}

need=()
have debootstrap || need+=(debootstrap)
[[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]] || need+=(debian-archive-keyring)
have mosquitto || need+=(mosquitto)
have mosquitto_pub || need+=(mosquitto-clients)
have systemd-analyze || need+=(systemd)

if ((${#need[@]} > 0)); then
  echo "Installing Debian packages for tests/deploy: ${need[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
      SUDO="sudo"
    else
      echo "Need root (or sudo) to install: ${need[*]}" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "No virtual environment at $VENV (create it with: python3 -m venv $VENV)" >&2
  exit 1
fi
if ! "$VENV/bin/python" - <<'PY' >/dev/null 2>&1
import importlib.metadata as m
import sys

wanted = {"ansible": (12, 13), "ansible-lint": (25, 27), "yamllint": (1, 2)}
for name, (low, high) in wanted.items():
    major = int(m.version(name).split(".")[0])
    if not low <= major < high:
        sys.exit(1)
PY
then
  echo "Installing ansible, ansible-lint and yamllint into $VENV"
  "$VENV/bin/python" -m pip install -q 'ansible>=12,<13' 'ansible-lint>=25.6,<27' 'yamllint>=1.35,<2'
fi
