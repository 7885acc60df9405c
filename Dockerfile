# The operator image for a Docker engine. The image that is built and tested in this repository
# comes from Debian packages only (lab/image.ts, `npm run image`: mmdebstrap + buildah), and
# test/e2e/image.test.ts runs it against the lab; see docs/image.md. This file produces the same
# runtime: Debian bookworm with librados2/libcephfs2/ca-certificates, the node binary only, the
# /app layout written by `tsx lab/image.ts stage` (one script for both), user 65532, and the
# entrypoint/cmd/env below. The e2e test checks ENTRYPOINT, CMD and USER here against the image.
FROM node:20-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends librados-dev libcephfs-dev g++ make python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json tsconfig*.json ./
COPY addons ./addons
RUN npm ci --no-audit --no-fund
COPY src ./src
COPY lab/bundle-operator.ts lab/image.ts ./lab/
# The addons (N-API + TypeScript), then /out/app: the one-file bundle and its launcher, each
# workspace's package.json, dist/*.js and build/Release/*.node, node_modules links to them.
RUN npm run build --workspaces && npx tsx lab/image.ts stage /out

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends librados2 libcephfs2 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && echo 'nonroot:x:65532:65532:nonroot:/nonexistent:/usr/sbin/nologin' >> /etc/passwd \
 && echo 'nonroot:x:65532:' >> /etc/group
# Node.js only (no npm, corepack or headers), at the path of Debian's nodejs package.
COPY --from=build /usr/local/bin/node /usr/bin/node
COPY --from=build /out/app /app
WORKDIR /app
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin NODE_ENV=production
USER 65532:65532
# The launcher runs node with the operator's memory settings (docs/benchmarks.md).
ENTRYPOINT ["/app/dist/cephfs-mirror-operator"]
CMD ["run"]
