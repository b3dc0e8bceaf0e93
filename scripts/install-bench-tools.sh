#!/usr/bin/env bash
# Installs py-spy, and wrk, the load generator `make bench` prefers, when missing (Debian/Ubuntu packages; sudo
# when not root). Never fails the benchmark: without wrk it falls back to its Python client and says so.
set -uo pipefail

# py-spy samples a serving gateway for the profile (`python -m bench.profile`), into the project's venv.
"${VENV:-.venv}/bin/pip" install --quiet py-spy || echo "could not install py-spy: no profile." >&2

command -v wrk >/dev/null 2>&1 && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "wrk not found and no apt-get: the benchmark uses its Python load generator." >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1 || ! sudo -n true 2>/dev/null; then
    echo "wrk not found and no root: the benchmark uses its Python load generator." >&2
    exit 0
  fi
  sudo="sudo -n"
fi
echo "Installing wrk ..."
if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    --no-install-recommends wrk >/dev/null; }; then
  echo "could not install wrk: the benchmark uses its Python load generator." >&2
fi
exit 0
