#!/usr/bin/env bash
# Builds kube-apiserver 1.20.2 from Debian's `kubernetes` source package and caches the binary.
#
# Why from source: nothing prebuilt can be downloaded on these machines, but Debian ships the full
# Kubernetes source (with vendor/) plus Go 1.19 and etcd. See docs/kube-apiserver.md.
#
# Idempotent: if the cached binary exists and answers --version, this exits at once.
# Runs as root on Debian bookworm (it adds a deb-src entry and may apt-get install build deps).
#
# Env:
#   XDG_CACHE_HOME        cache root (default ~/.cache)
#   KUBE_BUILD_KEEP_GOCACHE=1   keep the Go build cache (~1.2 GB) for a faster rebuild; by default it
#                               is deleted after a successful build, as the binary is what is reused
set -euo pipefail

readonly VERSION=1.20.2
readonly CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/cephfs-mirror-operator"
readonly BIN="$CACHE_DIR/kube-apiserver-$VERSION"
readonly WORK="$CACHE_DIR/kube-apiserver-build"
readonly GO_CACHE="$CACHE_DIR/go-build-cache"
readonly REFLECT2_SRC=/usr/share/gocode/src/github.com/modern-go/reflect2
readonly DEB_SRC_FILE=/etc/apt/sources.list.d/debian-src.sources

log() { printf '[build-apiserver] %s\n' "$*" >&2; }

# Tests drive the apiserver with kubectl. Debian ships it as kubernetes-client (1.20.2); a machine
# that already has a kubectl (any version >= 1.19 works against this server) keeps its own.
if ! command -v kubectl >/dev/null 2>&1; then
  log "installing kubectl (kubernetes-client)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client
fi

if [[ -x "$BIN" ]] && "$BIN" --version >/dev/null 2>&1; then
  log "cached: $BIN ($("$BIN" --version))"
  exit 0
fi

start_s=$(date +%s)
mkdir -p "$CACHE_DIR"

# --- build dependencies -----------------------------------------------------------------------
# rsync: the Makefile copies generated code with it; without it the generators end up as empty
# files. golang-github-modern-go-reflect2-dev: a reflect2 that works with Go >= 1.18 (see below).
need_pkgs=()
for pkg in golang-go rsync make dpkg-dev golang-github-modern-go-reflect2-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=("$pkg")
done
if ((${#need_pkgs[@]})); then
  log "installing build deps: ${need_pkgs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}"
fi

# --- source -----------------------------------------------------------------------------------
# The machine has only binary (`deb`) entries; add a matching `deb-src` stanza for every stanza of
# debian.sources (same URIs, suites, keyring) so `apt-get source` can find the package.
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  if [[ ! -f /etc/apt/sources.list.d/debian.sources ]]; then
    log "no /etc/apt/sources.list.d/debian.sources to mirror; add a deb-src entry by hand"
    exit 1
  fi
  log "adding $DEB_SRC_FILE"
  sed 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$DEB_SRC_FILE"
  apt-get update -qq
fi

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
log "downloading source package kubernetes"
# Sandbox user root: the work dir is not readable by _apt, which only costs a warning otherwise.
apt-get source --download-only -qq -o APT::Sandbox::User=root "kubernetes=$(apt-cache showsrc kubernetes | sed -n 's/^Version: //p' | grep -F "$VERSION" | head -n1)" >/dev/null
orig=$(ls kubernetes_*.orig.tar.*)
# Only the upstream tarball is used: it carries vendor/, which the Debian patches partly replace
# with Debian's own Go packages (not all of which are installed here).
log "unpacking $orig"
tar -xf "$orig"
src=$(find . -maxdepth 1 -type d -name "kubernetes-$VERSION*" | head -n1)
[[ -n "$src" ]] || { log "unpacked tree kubernetes-$VERSION not found"; exit 1; }
cd "$src"

# Go 1.19 + the vendored reflect2 v1.0.1 crash the apiserver (SIGSEGV in map iteration at the
# first custom-resource create); reflect2 1.0.2 fixed that for Go >= 1.18.
log "replacing vendored reflect2 with $REFLECT2_SRC"
rm -rf vendor/github.com/modern-go/reflect2
mkdir -p vendor/github.com/modern-go/reflect2
# The package's files (the empty .s files matter: they allow body-less linkname funcs), without
# tests or go.mod: vendor/ holds plain package trees.
find -L "$REFLECT2_SRC" -maxdepth 1 -type f ! -name '*_test.go' ! -name 'go.mod' ! -name 'go.sum' \
  -exec cp -L {} vendor/github.com/modern-go/reflect2/ \;

# --- build ------------------------------------------------------------------------------------
# `make` (not plain `go build`) runs the code generators, openapi-gen among them.
# hack/lib/golang.sh forces GOCACHE=_output/local/go/cache; point that at a directory under the
# cache dir so that, when kept (KUBE_BUILD_KEEP_GOCACHE=1), it outlives the unpacked source.
mkdir -p "$GO_CACHE" _output/local/go
ln -sfn "$GO_CACHE" _output/local/go/cache
log "building (make WHAT=cmd/kube-apiserver); this takes ~5 min cold on 2 cores"
build_start_s=$(date +%s)
nice -n 10 make WHAT=cmd/kube-apiserver KUBE_VERBOSE=1 >"$WORK/build.log" 2>&1 || {
  log "make failed; last lines of $WORK/build.log:"
  tail -n 40 "$WORK/build.log" >&2
  exit 1
}
build_s=$(($(date +%s) - build_start_s))

install -m 0755 _output/bin/kube-apiserver "$BIN.tmp"
mv "$BIN.tmp" "$BIN"
cd "$CACHE_DIR"
rm -rf "$WORK"

cache_size=$(du -sh "$GO_CACHE" | cut -f1)
if [[ "${KUBE_BUILD_KEEP_GOCACHE:-0}" == 1 ]]; then
  log "kept the go build cache ($cache_size) at $GO_CACHE"
else
  rm -rf "$GO_CACHE"
  log "deleted the go build cache ($cache_size); KUBE_BUILD_KEEP_GOCACHE=1 keeps it"
fi
total_s=$(($(date +%s) - start_s))
log "built $BIN ($("$BIN" --version), $(du -h "$BIN" | cut -f1)): make ${build_s}s, total ${total_s}s"
