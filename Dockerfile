# probe-atlas API image. Used by docker-compose.yml next to PostgreSQL 16.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
COPY prisma ./prisma
COPY prisma.config.ts ./
COPY scripts/schema-engine-shim.mjs ./scripts/schema-engine-shim.mjs
RUN npm ci
COPY . .
# The atlas page (npm ci's postinstall skipped it: web/ was not copied yet).
RUN npm run build:web
ENV HOST=0.0.0.0 PORT=4000 NODE_ENV=production
EXPOSE 4000
# The supervisor directly (what `npm start` runs): `docker stop`'s SIGTERM then reaches it, whereas
# npm's `sh -c` would die without passing it on, and the API and PostgreSQL would be killed after the grace period.
CMD ["node", "--import", "tsx", "scripts/start.ts"]
