#!/usr/bin/env bash
# What `make test` needs from Debian besides Python packages: Chromium (the browser tests), Fashion-MNIST
# (the dataset tests) and the fonts the synthetic data and the reading benchmark draw with.
# As root with apt-get, missing ones are installed; otherwise this says exactly what to install.
set -euo pipefail
PY=${1:-python3}
fonts=$("$PY" -c 'from mnistlab.data.fonts import FONT_PACKAGES; print(" ".join(FONT_PACKAGES["train"] + FONT_PACKAGES["eval"]))')
missing=()
for pkg in chromium dataset-fashion-mnist $fonts; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "installing Debian packages the tests need: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "NOTE: some tests will be skipped; install what they need with:" >&2
  echo "  sudo apt-get install ${missing[*]}" >&2
fi
