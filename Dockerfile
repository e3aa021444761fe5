# Slipway's runner image: node 22, the pinned Dagger CLI and the slipway CLI, for CI jobs that run in a container.
#   docker build -t slipway-runner .
#   docker run --rm -v "$PWD:/work" -w /work -v /var/run/docker.sock:/var/run/docker.sock slipway-runner \
#     dagger run slipway pipeline --source .
# The Dagger CLI comes from the engine image of the same version (it ships the CLI), so CLI and engine match.
ARG DAGGER_VERSION=v0.19.10
FROM registry.dagger.io/engine:${DAGGER_VERSION} AS dagger

FROM node:22-bookworm-slim
# git: commits for image tags and provenance; docker.io: the client the Dagger CLI starts its engine with
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git docker.io \
 && rm -rf /var/lib/apt/lists/*
COPY --from=dagger /usr/local/bin/dagger /usr/local/bin/dagger
WORKDIR /opt/slipway
# dependencies first (cached until the manifests change), production ones only
COPY package.json package-lock.json ./
COPY ci/package.json ci/
COPY modules/node/package.json modules/node/
COPY modules/testcontainers/package.json modules/testcontainers/
COPY modules/image/package.json modules/image/
COPY modules/sbom/package.json modules/sbom/
COPY modules/scan/package.json modules/scan/
COPY modules/sign/package.json modules/sign/
COPY modules/deploy/package.json modules/deploy/
COPY modules/smoke/package.json modules/smoke/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY tsconfig.json dagger.json ./
COPY ci/ ci/
COPY modules/ modules/
RUN ln -s /opt/slipway/ci/bin/slipway.js /usr/local/bin/slipway \
 && slipway --help >/dev/null && dagger version
ENV DAGGER_NO_NAG=1
CMD ["slipway", "--help"]
