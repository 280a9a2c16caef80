# syntax=docker/dockerfile:1
# vpp-cni image: the agent (ENTRYPOINT), the install step (node dist/deploy/install-cni.js, the chart's
# init container), vpp-cnictl, and the CNI plugin binary at /opt/vpp-cni/bin/vpp-cni.
#   docker build -t vpp-cni:0.1.0 .

# ---- build: TypeScript → dist/, and the single-executable plugin dist/vpp-cni (Bun-compiled) ----
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Dev dependencies are needed here (typescript, tsx, esbuild, bun). Install scripts are skipped: esbuild,
# @swc/core and protobufjs work without theirs, and the Bun binary is used from its platform package
# (@oven/bun-linux-x64 or -aarch64, from the npm registry like everything else).
# npm ci refuses this lock file (it is written without registry URLs); npm install keeps the locked versions.
RUN npm install --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY lib ./lib
COPY vpp-api ./vpp-api
COPY agent ./agent
COPY cni-plugin ./cni-plugin
COPY ctl ./ctl
COPY contract ./contract
COPY deploy ./deploy
# tsc -p tsconfig.build.json → dist/ (dist/agent/main.js, dist/deploy/install-cni.js, dist/ctl/main.js, ...)
RUN npm run build
# bun build --compile --bytecode → dist/vpp-cni: it runs on the host (glibc >= 2.17), not in this image.
# --runtime bun: fail rather than ship another runtime if Bun does not work here.
RUN npm run build:plugin -- --runtime bun \
 && mkdir -p /out/bin && mv dist/vpp-cni /out/bin/vpp-cni && rm -rf dist/plugin-build

# ---- production node_modules only ----
FROM node:20-bookworm-slim AS prod-deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm install --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime ----
FROM node:20-bookworm-slim
# iproute2: ip (pod netns links, addresses, routes); util-linux: nsenter; procps: sysctl;
# iptables: the node dataplane's VPPCNI-* chains (iptables, ip6tables, *-restore).
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 util-linux procps iptables \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/vpp-cni
# package.json carries "type": "module", which the compiled ES modules in dist/ need.
COPY package.json ./
COPY --from=prod-deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build --chmod=0755 /out/bin/vpp-cni /opt/vpp-cni/bin/vpp-cni
RUN printf '#!/bin/sh\nexec node /opt/vpp-cni/dist/ctl/main.js "$@"\n' > /usr/local/bin/vpp-cnictl \
 && chmod 0755 /usr/local/bin/vpp-cnictl
ENV NODE_ENV=production
# No USER: the agent runs as UID 0 because VPP's API socket, the CNI socket directory (0700) and the state
# directory are root's on the host, and it enters pod network namespaces (setns) and configures links
# there. The chart drops every capability except NET_ADMIN and SYS_ADMIN and does not run it privileged
# (unless node.enabled: the node dataplane writes the host's /proc/sys; docs/install.md).
# The install step also writes root-owned host directories (/opt/cni/bin, /etc/cni/net.d).
ENTRYPOINT ["node", "dist/agent/main.js"]
