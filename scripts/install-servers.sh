#!/usr/bin/env bash
# Make sure redis-server and nginx are installed for the multi-process tests
# (tests/e2e/test_roles.py starts its own of each on free loopback ports; it never touches a
# running instance). Installs Debian's packages with apt-get when run as root; without them
# those tests skip, except under CI, where they fail.
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's ${missing[*]} for the multi-process tests" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi
echo "missing ${missing[*]}: run 'sudo apt-get install ${missing[*]}' (tests/e2e/test_roles.py)" >&2
exit 0
