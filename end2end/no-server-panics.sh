#!/usr/bin/env bash
# Passes Playwright's output through, and fails when a Gantry server that Playwright started
# panicked. A panic on the server fails a test only if it breaks what the test reads (a page
# cut short, a stream closed); the servers' output, which Playwright prints with a [WebServer]
# prefix, shows every one.
#
#   npx playwright test 2>&1 | ./no-server-panics.sh
set -euo pipefail
awk '
    { print; fflush() }
    /\[WebServer\].*panicked at/ { panicked = 1 }
    END { if (panicked) { print "e2e: a Gantry server panicked (above)"; exit 1 } }
'
