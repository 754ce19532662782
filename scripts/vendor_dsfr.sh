#!/usr/bin/env bash
# Vendor a trimmed copy of the Système de Design de l'État (DSFR) into
# portal/static/dsfr/, with an SRI manifest.  Re-runnable: the target folder is
# wiped and rebuilt each time from the pinned npm package.
#
# Layout kept (same relative layout as the package's dist/, so the url()s in
# the CSS resolve unchanged):
#   dsfr.min.css                 -> url(fonts/…woff2), url(icons/<family>/…svg)
#   utility/icons/icons.min.css  -> url(../../icons/<family>/…svg)
#   dsfr.module.min.js, dsfr.nomodule.min.js
#   fonts/*.woff2                (Marianne, Spectral; the .woff fallbacks are
#                                 dropped: every browser that runs the DSFR JS
#                                 takes the woff2 listed first)
#   icons/                       (all families, ~0.5 MB)
#   favicon/
#   LICENSE.md                   (Licence Ouverte / etalab-2.0)
#   manifest.json                (version + sha384 SRI of every CSS/JS file)
#
# Usage: bash scripts/vendor_dsfr.sh
# Needs: npm (registry access), tar, openssl, node.
set -euo pipefail

DSFR_PACKAGE="@gouvfr/dsfr"
DSFR_VERSION="1.15.3"
DSFR_LICENCE="etalab-2.0"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$REPO_ROOT/portal/static/dsfr"
EXAMPLES_DEST="${DSFR_EXAMPLES_DEST:-/tmp/dsfr_examples}"

for tool in npm node tar openssl; do
    command -v "$tool" >/dev/null 2>&1 || { echo "vendor_dsfr: '$tool' is required" >&2; exit 1; }
done

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

echo "vendor_dsfr: npm pack $DSFR_PACKAGE@$DSFR_VERSION"
(cd "$WORK" && npm pack --silent "$DSFR_PACKAGE@$DSFR_VERSION" >/dev/null)
TARBALL="$(ls "$WORK"/*.tgz)"
tar -xzf "$TARBALL" -C "$WORK"
PKG="$WORK/package"
DIST="$PKG/dist"

# Sanity: the tarball really is the pinned version.
got_version="$(node -p "require('$PKG/package.json').version")"
if [ "$got_version" != "$DSFR_VERSION" ]; then
    echo "vendor_dsfr: expected $DSFR_VERSION, got $got_version" >&2
    exit 1
fi

rm -rf "$DEST"
mkdir -p "$DEST/utility/icons" "$DEST/fonts"

cp "$DIST/dsfr.min.css" "$DEST/"
cp "$DIST/dsfr.module.min.js" "$DEST/"
cp "$DIST/dsfr.nomodule.min.js" "$DEST/"
cp "$DIST/utility/icons/icons.min.css" "$DEST/utility/icons/"
cp "$DIST"/fonts/*.woff2 "$DEST/fonts/"
cp -R "$DIST/favicon" "$DEST/favicon"
cp "$PKG/LICENSE.md" "$DEST/LICENSE.md"

# Icons: the whole icons/ folder if it is small (it is ~0.5 MB in 1.15.x),
# otherwise only the families the portal uses plus those dsfr.min.css needs.
icons_bytes="$(du -sb "$DIST/icons" | cut -f1)"
if [ "$icons_bytes" -le $((2 * 1024 * 1024)) ]; then
    cp -R "$DIST/icons" "$DEST/icons"
else
    mkdir -p "$DEST/icons"
    for family in system user business document device arrows logo editor media weather; do
        [ -d "$DIST/icons/$family" ] && cp -R "$DIST/icons/$family" "$DEST/icons/$family"
    done
fi

# Check every relative url() in the kept CSS resolves to a kept file.
missing=0
for css in dsfr.min.css utility/icons/icons.min.css; do
    css_dir="$(dirname "$DEST/$css")"
    while IFS= read -r ref; do
        case "$ref" in
            data:*|http:*|https:*|//*|"#"*) continue ;;
        esac
        ref="${ref%%[?#]*}"
        if [ ! -e "$css_dir/$ref" ]; then
            case "$ref" in
                *.woff) ;;  # woff fallbacks are deliberately dropped (woff2 kept)
                *) echo "vendor_dsfr: $css: unresolved url($ref)" >&2; missing=$((missing + 1)) ;;
            esac
        fi
    done < <(grep -o 'url([^)]*)' "$DEST/$css" | sed -E "s/^url\(//; s/\)$//; s/^[\"']//; s/[\"']$//" | sort -u)
done
if [ "$missing" -ne 0 ]; then
    echo "vendor_dsfr: $missing unresolved url() references" >&2
    exit 1
fi

# SRI manifest for every CSS and JS file kept.
sri() { printf 'sha384-%s' "$(openssl dgst -sha384 -binary "$1" | openssl base64 -A)"; }
files_json=""
while IFS= read -r rel; do
    [ -n "$files_json" ] && files_json="$files_json,"
    files_json="$files_json\"$rel\":\"$(sri "$DEST/$rel")\""
done < <(cd "$DEST" && find . -type f \( -name '*.css' -o -name '*.js' \) | sed 's#^\./##' | LC_ALL=C sort)
node -e '
const [pkg, version, licence, files, out] = process.argv.slice(1);
const manifest = {package: pkg, version, licence, files: JSON.parse(files)};
require("fs").writeFileSync(out, JSON.stringify(manifest, null, 2) + "\n");
' "$DSFR_PACKAGE" "$DSFR_VERSION" "$DSFR_LICENCE" "{$files_json}" "$DEST/manifest.json"

# Example pages (login / register / response) for reading the markup: copied
# OUTSIDE the repository, keeping their path inside the package.
rm -rf "$EXAMPLES_DEST"
for page in login register response; do
    src="$PKG/example/layout/page/$page"
    if [ -d "$src" ]; then
        mkdir -p "$EXAMPLES_DEST/example/layout/page"
        cp -R "$src" "$EXAMPLES_DEST/example/layout/page/$page"
    else
        echo "vendor_dsfr: no example/layout/page/$page in this version" >&2
    fi
done

echo "vendor_dsfr: $DSFR_PACKAGE $DSFR_VERSION -> ${DEST#"$REPO_ROOT"/} ($(du -sh --apparent-size "$DEST" | cut -f1), $(find "$DEST" -type f | wc -l) files)"
[ -d "$EXAMPLES_DEST" ] && echo "vendor_dsfr: example pages -> $EXAMPLES_DEST"
