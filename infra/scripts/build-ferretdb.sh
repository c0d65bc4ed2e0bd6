#!/usr/bin/env bash
# Builds FerretDB v1.24.2 (the MongoDB-wire server the tests run against) into Go's bin folder, once.
# `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2` builds a binary that panics at start-up
# (build/version/version.txt is missing from the module zip, upstream issue #2982), so build from the module source.
set -euo pipefail
version=v1.24.2
bin="$(go env GOPATH)/bin/ferretdb"
if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "$version"; then
  echo "ferretdb $version already built at $bin"
  exit 0
fi
export CGO_ENABLED=0 GOFLAGS=-modcacherw
src=$(go mod download -json "github.com/FerretDB/FerretDB@$version" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src/." "$work"
chmod -R u+w "$work"
echo "$version" > "$work/build/version/version.txt"
(cd "$work" && go build -trimpath -o "$bin" ./cmd/ferretdb)
echo "built ferretdb $version at $bin"
