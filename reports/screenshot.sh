#!/bin/sh
# Screenshot of a report's index.html in headless Chromium, fully offline:
#   reports/screenshot.sh reports/example [out.png]
# Needs Debian's chromium (apt-get install chromium). The page must render
# without any network: it has no external resources and no scripts.
set -e
dir=${1:?usage: reports/screenshot.sh REPORT_DIR [OUT.png]}
out=${2:-$dir/screenshot.png}
page=$(cd "$dir" && pwd)/index.html
[ -f "$page" ] || { echo "no index.html in $dir" >&2; exit 2; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars --window-size=900,${HEIGHT:-6000} \
  --screenshot="$out" "file://$page" 2>/dev/null
echo "$out"
