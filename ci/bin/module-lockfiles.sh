#!/bin/sh
# Regenerates modules/<name>/package-lock.json from that module's own package.json (and .npmrc), outside the npm
# workspace: the Dagger TypeScript runtime installs a module from its own directory alone. An existing lockfile is
# the starting point, so versions move only where package.json changed; delete it to resolve afresh.
# Usage: ci/bin/module-lockfiles.sh [MODULE...]   (default: every module)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -gt 0 ] || set -- $(cd "$root/modules" && ls -d */ | tr -d /)
for name in "$@"; do
  dir="$root/modules/$name"
  [ -f "$dir/package.json" ] || { echo "module-lockfiles: $dir/package.json not found" >&2; exit 1; }
  tmp=$(mktemp -d)
  for f in package.json package-lock.json .npmrc; do
    if [ -f "$dir/$f" ]; then cp "$dir/$f" "$tmp/"; fi
  done
  (cd "$tmp" && npm install --package-lock-only --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  cp "$tmp/package-lock.json" "$dir/package-lock.json"
  rm -rf "$tmp"
  echo "modules/$name/package-lock.json"
done
