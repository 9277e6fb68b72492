#!/usr/bin/env bash
# Installs the Debian packages wosd needs to build (and, with --test, to test).
# Idempotent: does nothing when every package is already installed.
set -euo pipefail
build_pkgs="gcc make pkg-config libmicrohttpd-dev libssl-dev libsqlite3-dev libxml2-dev libisal-dev libjansson-dev libzstd-dev"
test_pkgs="clang libclang-rt-14-dev libcmocka-dev cppcheck clang-tidy valgrind python3 python3-pytest python3-boto3 python3-requests awscli s3cmd rclone curl"
pkgs="$build_pkgs"
[ "${1:-}" = "--test" ] && pkgs="$pkgs $test_pkgs"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# The JavaScript SDK tests need node and npm; a machine may already have them from elsewhere
# (NodeSource), so they are asked for by command, not by package.
if [ "${1:-}" = "--test" ] && ! { command -v node && command -v npm; } >/dev/null 2>&1; then
  missing="$missing nodejs npm"
fi
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
if [ "$(id -u)" != 0 ]; then sudo=sudo; else sudo=; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >&2
$sudo apt-get install -y -q --no-install-recommends $missing >&2
