# The operator image: Debian with librados/libcephfs runtime libraries; the addons are built in a
# separate stage so the compiler and headers stay out of the final image.
FROM node:20-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends librados-dev libcephfs-dev g++ make python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json tsconfig*.json ./
COPY addons ./addons
RUN npm ci --no-audit --no-fund
COPY src ./src
COPY lab/bundle-operator.ts ./lab/
# dist/: the one-file bundle and its launcher (lab/bundle-operator.ts); node_modules keeps
# only what the addons load at run time after the prune.
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends librados2 libcephfs2 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/addons ./addons
COPY --from=build /src/dist ./dist
ENV NODE_ENV=production
USER 65532:65532
# The launcher runs node with the operator's memory settings (docs/benchmarks.md).
ENTRYPOINT ["/app/dist/cephfs-mirror-operator"]
CMD ["run"]
