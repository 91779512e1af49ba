#!/usr/bin/env bash
# Make `docker compose` (the Compose v2 CLI plugin) available, for `docker compose config -q` on
# compose.yaml in CI. The docker CLI alone has no compose subcommand and no engine is needed for
# `config`. Builds the plugin from its Go module (github.com/docker/compose/v2) with `go install`
# once, caches the binary and links it as ~/.docker/cli-plugins/docker-compose. Idempotent: a
# cached binary of the right version is reused without Go.
#
#   VAD_COMPOSE_VERSION  Compose version (default v2.40.3)
#
# Needs go (1.24+) unless `docker compose` already works. Stdout: the plugin path; progress on stderr.
set -euo pipefail

VERSION="${VAD_COMPOSE_VERSION:-v2.40.3}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/vad/compose-${VERSION}"
PLUGIN_DIR="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
PLUGIN="$PLUGIN_DIR/docker-compose"

if ! command -v docker >/dev/null; then
  echo "compose-setup: no docker CLI (Debian: apt-get install docker.io or docker-ce-cli)" >&2
  exit 1
fi
if docker compose version >/dev/null 2>&1 && [ ! -L "$PLUGIN" ]; then
  echo "docker compose"  # a plugin installed otherwise (Docker Desktop, docker-compose-plugin)
  exit 0
fi

if [ ! -x "$CACHE/docker-compose" ]; then
  if ! command -v go >/dev/null; then
    echo "compose-setup: 'go' not found (needed once to build Compose ${VERSION})" >&2
    exit 1
  fi
  echo "compose-setup: building Compose ${VERSION} from its Go module (once, cached)" >&2
  # `go install module/cmd@version` refuses modules whose go.mod has replace/exclude directives,
  # as Compose's does: fetch the module (through the Go module proxy) and build it as main module.
  src="$(go mod download -json "github.com/docker/compose/v2@${VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  if [ -z "$src" ]; then
    echo "compose-setup: go mod download of Compose ${VERSION} failed" >&2
    exit 1
  fi
  mkdir -p "$CACHE"
  (cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -o "$CACHE/docker-compose.tmp" \
    -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=${VERSION}" ./cmd) >&2
  mv "$CACHE/docker-compose.tmp" "$CACHE/docker-compose"
fi

mkdir -p "$PLUGIN_DIR"
ln -sfn "$CACHE/docker-compose" "$PLUGIN"
docker compose version >&2
echo "$PLUGIN"
