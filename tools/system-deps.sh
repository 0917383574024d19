#!/usr/bin/env bash
# Check the Debian packages that `make test` needs (tools/system-packages.txt).
#   tools/system-deps.sh check     all there: print nothing. Missing, as root on Debian: install them
#                                  (progress on stderr). Otherwise print ONE line on stdout saying
#                                  what is missing and how to install it, and exit 1. The Makefile
#                                  turns that line into make's own one-line stop.
#   tools/system-deps.sh install   install the missing ones (as root, with apt-get)
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
list="$here/system-packages.txt"
if [ ! -r "$list" ]; then
  echo "cannot read $list, the list of Debian packages make test needs"
  exit 1
fi
missing=()
while read -r package probe; do
  case "$package" in ''|'#'*) continue ;; esac
  [ -e "$probe" ] || missing+=("$package")
done < "$list"

[ ${#missing[@]} -eq 0 ] && exit 0

install() {
  echo "installing Debian packages: ${missing[*]}" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  install && exit 0
  echo "apt-get could not install the Debian packages ${missing[*]}"
  exit 1
fi
if [ "${1:-check}" = "install" ] && ! command -v apt-get >/dev/null; then
  echo "no apt-get here; install these with your system's package manager: ${missing[*]}"
  exit 1
fi
if [ "${1:-check}" = "install" ]; then
  echo "installing the Debian packages ${missing[*]} needs root: run sudo make system-deps"
else
  echo "make test needs the Debian packages ${missing[*]}; install them with: sudo make system-deps"
fi
exit 1
