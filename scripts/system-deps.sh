#!/usr/bin/env bash
# Debian packages the test suite needs: a real RTSP server (GStreamer) run by the system python3.
# Installs them when missing and we are root; otherwise says what to install.
set -euo pipefail
PACKAGES=(gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good
          gstreamer1.0-plugins-bad gstreamer1.0-libav python3-gi)

have_rtsp() {
  /usr/bin/python3 - <<'PY' 2>/dev/null
import gi
gi.require_version("Gst", "1.0"); gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer  # noqa: F401
Gst.init(None)
assert Gst.ElementFactory.find("qtdemux") and Gst.ElementFactory.find("rtph264pay")
PY
}

if have_rtsp; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing GStreamer RTSP server packages for the test camera ..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${PACKAGES[@]}" >/dev/null
else
  echo "warning: RTSP tests will be skipped; install: sudo apt-get install ${PACKAGES[*]}" >&2
fi
