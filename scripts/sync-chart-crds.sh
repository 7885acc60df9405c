#!/usr/bin/env bash
# deploy/crds is the source; the Helm chart ships copies (Helm reads CRDs only from its crds/).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -f deploy/helm/cephfs-mirror-operator/crds/*.yaml
cp deploy/crds/*.yaml deploy/helm/cephfs-mirror-operator/crds/
