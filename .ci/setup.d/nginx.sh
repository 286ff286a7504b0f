#!/usr/bin/env bash
# nginx is the low-cost receiver of bench/ and of the fault scenarios (pytest -m faults).
set -euo pipefail
if ! command -v nginx >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx) >/dev/null 2>&1 || echo "warning: nginx could not be installed"
fi
