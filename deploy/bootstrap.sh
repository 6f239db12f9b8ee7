#!/usr/bin/env bash
# Installs everything the platform and its tests need on a Debian 12 machine that
# has only Node 20: Debian packages, pnpm (through corepack), node modules, build.
# Idempotent and quiet when there is nothing to do.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export COREPACK_ENABLE_DOWNLOAD_PROMPT=0 COREPACK_INTEGRITY_KEYS=0
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1

# wrk: the HTTP load generator of bench/api.mjs (C, keep-alive HTTPS, Lua scripts)
# procps: sysctl (ip_nonlocal_bind in each lab node); curl: the lab tests reach the API
# from the client namespace — without it they would skip on a fresh machine
# espeak-ng, sox: the build renders the app-server's announcements with them (apps/appserver/README.md)
DEB_PACKAGES=(mariadb-server mariadb-client redis-server rtpengine-daemon sip-tester wrk iproute2 iputils-arping procps curl git ca-certificates openssl espeak-ng sox)

log() { printf '[bootstrap] %s\n' "$*" >&2; }

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  log "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  # No service is started by a package install here (policy-rc.d); we run our own.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v pnpm >/dev/null 2>&1 || ! pnpm --version >/dev/null 2>&1; then
  log "enabling pnpm through corepack"
  if [ "$(id -u)" -eq 0 ]; then corepack enable; else corepack enable --install-directory "$HOME/.local/bin"; export PATH="$HOME/.local/bin:$PATH"; fi
fi
want_pnpm="$(node -p "require('./package.json').packageManager.split('@')[1]")"
if [ "$(pnpm --version 2>/dev/null)" != "$want_pnpm" ]; then
  corepack prepare "pnpm@$want_pnpm" --activate >/dev/null
fi

# node modules: reinstall only when the lockfile or a manifest changed
stamp="node_modules/.ngcp-install-stamp"
sum="$( (cat pnpm-lock.yaml 2>/dev/null; find . -name package.json -not -path '*/node_modules/*' -not -path './.git/*' | sort | xargs cat) | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
  log "installing node modules"
  if [ -f pnpm-lock.yaml ]; then pnpm install --frozen-lockfile --reporter=silent; else pnpm install --reporter=silent; fi
  echo "$sum" > "$stamp"
fi

log "building"
pnpm exec turbo run build --output-logs=errors-only >&2
