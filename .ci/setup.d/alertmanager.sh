#!/usr/bin/env bash
# Prometheus Alertmanager for the prometheus-alertmanager integration test (tests/integration/test_incident_b.py).
# Idempotent: installs Debian's package only if the binary is missing, then makes sure no
# package-started instance holds port 9093 (the test starts its own on a free port).
set -euo pipefail

if [ ! -x /usr/bin/prometheus-alertmanager ]; then
  echo "[ci] installing prometheus-alertmanager"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq prometheus-alertmanager
fi

# The package may start its service (when policy-rc.d allows it); stop it and keep it from coming back.
if command -v service >/dev/null 2>&1; then
  service prometheus-alertmanager stop >/dev/null 2>&1 || true
fi
if command -v update-rc.d >/dev/null 2>&1; then
  update-rc.d prometheus-alertmanager disable >/dev/null 2>&1 || true
fi
# The Debian service runs as user "prometheus"; only stop instances started that way, never the tests' own.
pkill -u prometheus -f /usr/bin/prometheus-alertmanager >/dev/null 2>&1 || true
exit 0
