#!/usr/bin/env bash
# Vendor axe-core (accessibility rules engine, MPL-2.0) for the portal's
# browser tests: tests/portal/vendor/axe.min.js, axe-LICENSE.txt, axe.json.
# Re-runnable: the three files are overwritten from the pinned npm package.
#
# Usage: bash scripts/vendor_axe.sh
# Needs: npm (registry access), tar, openssl, node.
set -euo pipefail

AXE_PACKAGE="axe-core"
AXE_VERSION="4.14.1"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$REPO_ROOT/tests/portal/vendor"

for tool in npm node tar openssl; do
    command -v "$tool" >/dev/null 2>&1 || { echo "vendor_axe: '$tool' is required" >&2; exit 1; }
done

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

echo "vendor_axe: npm pack $AXE_PACKAGE@$AXE_VERSION"
(cd "$WORK" && npm pack --silent "$AXE_PACKAGE@$AXE_VERSION" >/dev/null)
tar -xzf "$WORK"/*.tgz -C "$WORK"
PKG="$WORK/package"

got_version="$(node -p "require('$PKG/package.json').version")"
if [ "$got_version" != "$AXE_VERSION" ]; then
    echo "vendor_axe: expected $AXE_VERSION, got $got_version" >&2
    exit 1
fi

mkdir -p "$DEST"
cp "$PKG/axe.min.js" "$DEST/axe.min.js"
cp "$PKG/LICENSE" "$DEST/axe-LICENSE.txt"

digest="$(openssl dgst -sha384 -binary "$DEST/axe.min.js" | openssl base64 -A)"
node -e '
const [pkg, version, sha384, out] = process.argv.slice(1);
require("fs").writeFileSync(out, JSON.stringify({package: pkg, version, sha384}, null, 2) + "\n");
' "$AXE_PACKAGE" "$AXE_VERSION" "$digest" "$DEST/axe.json"

echo "vendor_axe: $AXE_PACKAGE $AXE_VERSION -> ${DEST#"$REPO_ROOT"/}"
