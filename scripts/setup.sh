#!/usr/bin/env bash
# Everything a fresh Debian bookworm machine needs before the lab or the tests run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
npm ci --no-audit --no-fund
npm run build
if [ -x lab/kube/build-apiserver.sh ]; then bash lab/kube/build-apiserver.sh; fi
# The Helm chart renderer (test/e2e/helm-chart.test.ts); prints its cached path.
bash deploy/helm/render/build.sh >/dev/null
