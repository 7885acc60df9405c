#!/usr/bin/env bash
# Installs the Debian packages the project needs (real Ceph Pacific, its dev headers, etcd, and the
# toolchain that builds kube-apiserver from Debian's source, the Go packages of the chart renderer).
# Quick when everything is present.
set -euo pipefail

packages=(
  ceph-mon ceph-mgr ceph-osd ceph-mds cephfs-mirror ceph-common
  librados-dev libcephfs-dev python3-rados python3-cephfs
  g++ make python3
  etcd-server golang-go rsync golang-github-modern-go-reflect2-dev openssl
  # deploy/helm/render (the chart renderer the Helm chart's test uses)
  golang-github-masterminds-sprig-dev golang-github-ghodss-yaml-dev
  # the Argo CD health check's test (Argo CD runs Lua 5.1)
  lua5.1 lua-cjson
  # promtool, for the chart's alert rules and their unit tests
  prometheus
  # the addons' C++ formatting check
  clang-format
  # the operator image, built from Debian packages (docs/image.md): root filesystem and assembly
  mmdebstrap buildah dpkg-repack
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
