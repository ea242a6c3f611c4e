#!/usr/bin/env bash
# Make sure Debian's chromium is installed for the browser tests (Playwright drives it; we never
# download a browser of Playwright's own). Installs it with apt-get when run as root.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  exit 0
fi
echo "chromium is missing: run 'sudo apt-get install chromium' (the browser tests need it)" >&2
exit 1
