#!/usr/bin/env bash
# Runs the whole test suite on Debian 12 as root, installing what it needs first.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/install.sh" test
cd "$here"
exec "$here/.venv/bin/python" -m pytest -n 2 -p no:cacheprovider "$@" tests
