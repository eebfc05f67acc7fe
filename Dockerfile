# Passerelle — image de production (multi-stage).
#   docker build -t passerelle .
#   docker run -d --name passerelle --network host \
#     -v /srv/passerelle/etc:/etc/passerelle:ro \
#     -v passerelle-data:/var/lib/passerelle \
#     passerelle
# passerelle.json must set "dataDir": "/var/lib/passerelle" (PASSERELLE_DATA applies to the demo
# only). The admin UI listens on loopback only: --network host keeps it on the host's
# 127.0.0.1:8443. Voir docs/exploitation.md, section Docker.

# ---- build: all dependencies, compile TypeScript, then drop the dev dependencies ----
FROM node:20-bookworm-slim AS build
# Toolchain only for the rare case a native module (better-sqlite3, ssh2's cpu-features) has no
# prebuilt binary for this platform and must compile.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx tsc -p tsconfig.build.json \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: compiled code + production dependencies, non-root ----
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    PASSERELLE_DATA=/var/lib/passerelle \
    PASSERELLE_SFTP_PORT=2222
RUN groupadd --system passerelle \
 && useradd --system --gid passerelle --home-dir /var/lib/passerelle --shell /usr/sbin/nologin passerelle \
 && mkdir -p /var/lib/passerelle /etc/passerelle \
 && chown passerelle:passerelle /var/lib/passerelle
WORKDIR /app
# Same base image as the build stage, so the native modules built there run here.
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/schemas ./schemas
COPY --from=build /app/data ./data
COPY --from=build /app/admin-ui ./admin-ui
COPY --from=build /app/config ./config
# Only the list of demo-key fingerprints (never the demo keys): lets `start` refuse them.
COPY --from=build /app/keys-example/DEMO-FINGERPRINTS ./keys-example/DEMO-FINGERPRINTS
USER passerelle
VOLUME /var/lib/passerelle
EXPOSE 2222 8443
# Healthy when the SFTP port answers with an SSH banner (no login, nothing logged as a failure
# beyond a connection closed before the key exchange).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const s=require('net').connect(Number(process.env.PASSERELLE_SFTP_PORT||2222),'127.0.0.1');s.setTimeout(4000,()=>process.exit(1));s.on('error',()=>process.exit(1));s.once('data',(d)=>{s.destroy();process.exit(d.toString('latin1').startsWith('SSH-2.0-')?0:1);});"]
CMD ["node", "dist/gateway/cli/main.js", "start", "--config", "/etc/passerelle/passerelle.json"]
