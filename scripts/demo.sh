#!/usr/bin/env bash
# The main job: set up, start the local two-site Ceph lab and show it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run -s lab -- up
cat <<'MSG'

The lab runs in ./.lab (site-a: filesystem "a", site-b: filesystem "b").
  npm run lab -- status             show both sites
  npm run lab -- mirror start m1    start a cephfs-mirror daemon (client.m1) against site-a
  ceph -c .lab/site-a/ceph.conf -s  talk to site-a with the ceph CLI
  npm run lab -- down               stop everything (by pid) and remove the data
MSG
