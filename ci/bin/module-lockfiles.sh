#!/bin/sh
# Regenerates the package-lock.json of each Dagger module's source directory (ci/ for the root module,
# modules/<name>) from that directory's own package.json (and .npmrc), outside the npm workspace: the Dagger
# TypeScript runtime installs a module from its own directory alone. An existing lockfile is the starting point,
# so versions move only where package.json changed; delete it to resolve afresh.
# Usage: ci/bin/module-lockfiles.sh [DIR...]   (default: ci and every module, e.g. modules/node)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -gt 0 ] || set -- ci $(cd "$root" && ls -d modules/*/ | sed 's#/$##')
for rel in "$@"; do
  dir="$root/$rel"
  [ -f "$dir/package.json" ] || { echo "module-lockfiles: $dir/package.json not found" >&2; exit 1; }
  tmp=$(mktemp -d)
  for f in package.json package-lock.json .npmrc; do
    if [ -f "$dir/$f" ]; then cp "$dir/$f" "$tmp/"; fi
  done
  (cd "$tmp" && npm install --package-lock-only --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  cp "$tmp/package-lock.json" "$dir/package-lock.json"
  rm -rf "$tmp"
  echo "$rel/package-lock.json"
done
