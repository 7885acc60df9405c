#!/usr/bin/env bash
# Builds chart-render (main.go beside this script) from Debian's Go packages and prints the path
# of the binary. The binary is cached as ${XDG_CACHE_HOME:-~/.cache}/cephfs-mirror-operator/
# chart-render-<hash of main.go>, so a second run only hashes the file.
#
# No module downloads: the build runs in GOPATH mode against /usr/share/gocode (Debian's Go
# packages). sprig is imported as github.com/Masterminds/sprig/v3 but Debian installs it without
# the /v3 directory; Go resolves such a path in GOPATH mode ("minimal module compatibility") only
# for code that itself sits in a GOPATH src tree under a go.mod, so the source is copied into a
# private GOPATH with a one-line go.mod first.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/cephfs-mirror-operator"
hash="$(sha256sum "$here/main.go" | cut -c1-16)"
bin="$cache_dir/chart-render-$hash"

if [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi

log() { printf '[chart-render] %s\n' "$*" >&2; }

packages=(golang-go golang-github-masterminds-sprig-dev golang-github-ghodss-yaml-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

mkdir -p "$cache_dir"
work="$(mktemp -d "$cache_dir/chart-render-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
src="$work/gopath/src/chartrender"
mkdir -p "$src"
cp "$here/main.go" "$src/"
printf 'module chartrender\n\ngo 1.19\n' >"$src/go.mod"
log "building $bin"
(
  cd "$src"
  GO111MODULE=off GOPATH="$work/gopath:/usr/share/gocode" GOCACHE="$work/cache" GOFLAGS= \
    go build -trimpath -o "$work/chart-render" .
)
# Older binaries of other main.go versions are not worth keeping.
rm -f "$cache_dir"/chart-render-????????????????
mv "$work/chart-render" "$bin"
echo "$bin"
