#!/usr/bin/env bash
# Installs the Home Assistant that the integration tests start (tests/homeassistant/) into
# its own virtual environment, apart from the hub's: Home Assistant pins its own versions of
# paho-mqtt, pydantic and friends. Idempotent: a second run with the same pins does nothing.
#
#   scripts/install-homeassistant.sh [VENV]     (default: .cache/homeassistant-venv)
#
# 2024.3.x is the last Home Assistant release that runs on Python 3.11 (Debian bookworm, this
# machine). Newer ones need a newer Python than the registries here give this machine: 2026.2.3
# is the newest for Debian trixie's 3.13.5, the current releases need 3.14.2 (docs/installers.md,
# "A current Home Assistant": its container image). The extras below are
# what its core and the integrations the tests load (http, api, config, onboarding, mqtt...)
# import at start but do not declare, or what must be held back to start offline.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${1:-.cache/homeassistant-venv}
PYTHON=${PYTHON:-python3}
HA_VERSION=2024.3.3
PINS=(
  "homeassistant==${HA_VERSION}"
  "josepy<2"            # acme (via hass_nabucasa) imports josepy.ComparableX509, gone in josepy 2
  "pyotp==2.8.0"        # auth: the TOTP module, imported when the auth providers load
  "PyQRCode==1.2.1"     # auth: same
  # the requirements of the integrations Home Assistant always loads (its manifests), which
  # it would otherwise try to pip-install at start (the tests start it with --skip-pip)
  "home-assistant-frontend==20240307.0"   # frontend: without it, recovery mode
  "Pillow==10.2.0"                        # image_upload (person, onboarding)
  "janus==1.0.0"                          # file_upload (frontend, mqtt)
  "psutil-home-assistant==0.0.1"          # hardware, analytics (onboarding)
  "securetar==2024.2.1"                   # backup
  "ifaddr==0.2.0"                         # network
  "aiohttp_cors==0.7.0"                   # http
  "aiohttp-fast-url-dispatcher==0.3.0"    # http
  "aiohttp-zlib-ng==0.3.1"                # http
  "SQLAlchemy==2.0.27"                    # recorder, imported by analytics (onboarding)
  "fnv-hash-fast==0.5.0"                  # recorder, same
  "paho-mqtt==1.6.1"                      # mqtt
  "numpy==1.26.0"                         # stream, imported by camera (an MQTT platform)
  "PyTurboJPEG==1.7.1"                    # camera
  "file-read-backwards==2.0.0"            # file (the notify service the tests read back)
  "PyNaCl==1.5.0"                         # mobile_app (the Ansible role's configuration)
  "hassil==1.6.1"                         # conversation, imported by mobile_app
  "home-assistant-intents==2024.3.12"     # conversation, same
  "mutagen==1.47.0"                       # tts, imported by mobile_app through cloud
  "ha-ffmpeg==3.1.0"                      # ffmpeg, same
  "webrtc-noise-gain==1.2.3"              # assist_pipeline, same
  # default_config's integrations (their manifests' pins), for the latency benchmark's
  # stock Home Assistant (benchmarks/bench_latency.py --ha stock); the tests do not load them
  "aiodhcpwatcher==0.8.2" "aiodiscover==1.6.1" "cached_ipaddress==0.3.0"   # dhcp
  "pyudev==0.23.2" "pyserial==3.5"                                        # usb
  "async-upnp-client==0.38.2"                                             # ssdp
  "zeroconf==0.131.0"                                                     # zeroconf
  "bleak==0.21.1" "bleak-retry-connector==3.4.0" "bluetooth-adapters==0.18.0"
  "bluetooth-auto-recovery==1.3.0" "bluetooth-data-tools==1.19.0"
  "dbus-fast==2.21.1" "habluetooth==2.4.2"                                # bluetooth
  "ha-av==10.1.1"                                                         # stream
)
STAMP="$VENV/.thuisplus-installed"
WANT="$(printf '%s\n' "${PINS[@]}")"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" && -x "$VENV/bin/hass" ]]; then
  exit 0
fi
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else 1)'; then
  echo "Home Assistant ${HA_VERSION} needs Python 3.11 or newer" >&2
  exit 1
fi
echo "Installing Home Assistant ${HA_VERSION} for the tests into ${VENV} (a few minutes, once)"
"$PYTHON" -m venv "$VENV"
# keep git, ruff and friends out of it wherever it lives (as .pytest_cache does)
printf '# made by scripts/install-homeassistant.sh\n*\n' > "$VENV/.gitignore"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "${PINS[@]}"
printf '%s' "$WANT" > "$STAMP"
echo "Home Assistant installed: $("$VENV/bin/hass" --version)"
