#!/usr/bin/env bash
# Run a command with a display: the user's own if there is one, else a private Xvfb server.
set -euo pipefail
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  exec "$@"
fi
if command -v xvfb-run >/dev/null 2>&1; then
  exec xvfb-run -a -s "-screen 0 1600x1000x24 -nolisten tcp" "$@"
fi
echo "with_display: no display and no xvfb-run; Qt falls back to the offscreen platform" >&2
export QT_QPA_PLATFORM=offscreen
exec "$@"
