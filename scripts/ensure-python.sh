#!/usr/bin/env bash
# Checks that $1 (default python3) is Python 3.11+ with venv; on Debian, installs
# python3-venv when it is missing (as root, or through sudo).
set -euo pipefail
PY=${1:-python3}
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "No $PY found: install Python 3.11 or newer (Debian: apt-get install python3)" >&2
  exit 1
fi
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "$PY is $("$PY" -V 2>&1); the hub needs Python 3.11 or newer" >&2
  exit 1
fi
if "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  exit 0
fi
echo "Python's venv module is missing; installing python3-venv"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 && SUDO="sudo" || {
    echo "Need root (or sudo) to install python3-venv" >&2; exit 1; }
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends python3-venv
