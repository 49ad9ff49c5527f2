#!/usr/bin/env bash
# Install everything the tests need (Debian packages included) and run the whole suite:
# lint, types, architecture contracts, then pytest (unit, contract, integration, e2e).
# Used as-is by the README's Quick start and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(docker-registry skopeo containerd podman umoci runc rpm db5.3-util chromium)
missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'

echo "== ruff"; .venv/bin/ruff check proxy db migrations tests bench
echo "== mypy"; .venv/bin/mypy
echo "== import contracts"; .venv/bin/lint-imports
echo "== pytest"
# The sandbox's AWS_CA_BUNDLE confuses some tools; tests set what they need themselves.
env -u AWS_CA_BUNDLE .venv/bin/pytest -p no:cacheprovider "$@"
