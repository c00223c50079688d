#!/usr/bin/env bash
# Make sure `docker compose` (Compose v2) works: the compose check and the
# benchmark's baseline need it. No registry or release download is assumed:
# it is built from the Go module proxy (about 3 minutes, once) into the
# docker CLI's plugin folder. `go install` refuses the module (its go.mod has
# exclude directives), so it is built from a throw-away module.
set -euo pipefail

VERSION=v2.40.3
PLUGINS="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"

if docker compose version >/dev/null 2>&1; then
	exit 0
fi
command -v go >/dev/null 2>&1 || { echo "devstack: docker compose is missing and Go is not here to build it" >&2; exit 1; }
echo "devstack: building docker compose $VERSION from the Go module proxy (about 3 minutes, once)" >&2
dir=$(mktemp -d "${TMPDIR:-/tmp}/devstack-compose.XXXXXX")
trap 'rm -rf "$dir"' EXIT
mkdir -p "$PLUGINS"
(
	cd "$dir"
	go mod init tmp >/dev/null 2>&1
	go get "github.com/docker/compose/v2/cmd@$VERSION" >/dev/null 2>&1
	go build -o "$PLUGINS/docker-compose" github.com/docker/compose/v2/cmd
) >"$dir.log" 2>&1 || { cat "$dir.log" >&2; rm -f "$dir.log"; exit 1; }
rm -f "$dir.log"
docker compose version >&2
