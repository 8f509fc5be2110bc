# syntax=docker/dockerfile:1
# dataspace-sync: built once on Node 22 (a pinned minor, patch releases followed), run as a non-root
# user with the SQLite store on a volume.

FROM node:22.23-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles its native addon when no prebuilt binary matches.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The runtime stage takes these node_modules as they are: production dependencies only, the native
# addon already compiled for this same base image, and no compiler ever in the final image.
RUN npm run build \
 && npm prune --omit=dev \
 && npm cache clean --force

FROM node:22.23-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# package.json says the compiled files are ES modules.
COPY package.json sync.config.json sync.config.schema.json ./
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
