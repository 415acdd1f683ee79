#!/usr/bin/env bash
# Render livegate's HTML report in headless Chromium and save a screenshot to look at.
#
#   scripts/render_report.sh [WORKSPACE] [OUT_DIR]
#
# WORKSPACE  a livegate workspace; default: a throwaway one with a 3-day backtest on the
#            seeded synthetic data (builtin:btc-1m), made offline.
# OUT_DIR    where report.html and report.png go (default: a new temporary directory).
#
# Needs Chromium (Debian: `sudo apt-get install chromium`) and livegate on PATH (or set
# LIVEGATE="python -m livegate"). The PNG is the top 4000 px of the page at 1200 px wide
# (WINDOW_SIZE=width,height for another size); open it in any
# image viewer. tests/monitoring/test_report_render.py makes the same render in the test suite
# and checks the charts' colours in the pixels.
set -euo pipefail

LIVEGATE=${LIVEGATE:-livegate}
OUT=${2:-$(mktemp -d)}
BROWSER=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$BROWSER" ]; then
  echo "no Chromium found: sudo apt-get install chromium" >&2
  exit 2
fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

if [ -n "${1:-}" ]; then
  WS=$1
else
  WS="$OUT/ws"
  $LIVEGATE init "$WS" >/dev/null
  # a backtest that fails the paper criteria exits 1; it is still a report worth looking at
  $LIVEGATE -w "$WS" paper-run --days 3 --replay builtin:btc-1m --json >/dev/null || [ $? -eq 1 ]
fi

$LIVEGATE -w "$WS" report --html "$OUT/report.html"
"$BROWSER" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
  --user-data-dir="$OUT/chromium-profile" --window-size="${WINDOW_SIZE:-1200,4000}" \
  --screenshot="$OUT/report.png" "file://$OUT/report.html" 2>/dev/null
rm -rf "$OUT/chromium-profile"
echo "screenshot: $OUT/report.png"
