#!/usr/bin/env bash
# code-server (VS Code in the browser) from the npm registry, for check_vscode.py.
#   bash benchmarks/browser/install_code_server.sh [PREFIX]    (default /tmp/vscode)
# Needs root for apt-get; Node.js 20 (code-server 4.100 is the last for Node 20).
set -euo pipefail
prefix="${1:-/tmp/vscode}"
if [ -x "$prefix/node_modules/.bin/code-server" ]; then exit 0; fi
apt-get update -qq
apt-get install -y -qq build-essential python3 libkrb5-dev libxkbfile-dev libsecret-1-dev \
  ripgrep >/dev/null
# @vscode/ripgrep fetches its binary from GitHub, which is out of reach: its cache gets
# Debian's rg under the name it looks for.
cache="${TMPDIR:-/tmp}/vscode-ripgrep-cache-1.15.11"
mkdir -p "$cache"
tar -C "$(dirname "$(command -v rg)")" -czf \
  "$cache/ripgrep-v13.0.0-10-$(uname -m)-unknown-linux-musl.tar.gz" rg
mkdir -p "$prefix"
cd "$prefix"
# unsafe_perm: its postinstall runs as root; yes: node-pty's build asks before npx node-gyp
npm_config_yes=true npm_config_unsafe_perm=true \
  npm install --no-audit --no-fund --loglevel=error code-server@4.100.3 >/dev/null
test -x "$prefix/node_modules/.bin/code-server"
