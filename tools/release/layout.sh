#!/usr/bin/env bash
# Lays the release build out in DIR as the Containerfile's runtime image holds it, so that
# the release binary is tested (`make e2e-release`) exactly where the image puts it:
#   DIR/usr/local/bin/gantry     and hash.txt beside it (the front end's hashed names)
#   DIR/srv/gantry/site          GANTRY_SITE_ROOT
#   DIR/var/lib/gantry           GANTRY_DATA_DIR
# No container runtime exists where Gantry is developed, so the image itself is not built.
# Prints DIR's absolute path.
#
#   tools/release/layout.sh TARGET_DIR DIR
set -euo pipefail

target="$1" dir="$2"
rm -rf "$dir"
mkdir -p "$dir/usr/local/bin" "$dir/srv/gantry" "$dir/var/lib/gantry"
cp "$target/release/gantry" "$target/release/hash.txt" "$dir/usr/local/bin/"
cp -r target/site "$dir/srv/gantry/site"
# Absolute, as its callers run the binary from other folders (make e2e-release from end2end/).
realpath "$dir"
