# syntax=docker/dockerfile:1
# dataspace-sync: build on Node 22 LTS, run as a non-root user with the SQLite store on a volume.

FROM node:22-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles its native addon when no prebuilt binary matches.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; the compilers needed for the native addon are removed in the same
# layer so they never ship in the image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && npm ci --omit=dev \
 && npm cache clean --force \
 && apt-get purge -y python3 make g++ \
 && apt-get autoremove -y \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /app/dist ./dist
COPY sync.config.json sync.config.schema.json ./
# The config's default store path ./data/sync.db lands on the /data volume.
RUN mkdir -p /data && chown node:node /data && ln -s /data /app/data
VOLUME ["/data"]
USER node
EXPOSE 8080
# The check reads server.host/port from the same config (DSS_CONFIG included), so a changed port
# is followed; a different port also needs its own -p mapping.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "dist/main.js", "healthcheck"]
# Mount your own config over /app/sync.config.json, or point DSS_CONFIG at it.
ENTRYPOINT ["node", "dist/main.js"]
CMD ["run"]
