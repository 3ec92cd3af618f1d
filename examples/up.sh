#!/usr/bin/env bash
# Brings up the example stack (examples/hello) from nothing, offline: installs composer, makes the
# base image from Debian's busybox-static, starts the stack and shows that it answers.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/install.sh"
composer="$here/.venv/bin/composer"
py="$here/.venv/bin/python"

if ! "$composer" image inspect composer/busybox:latest >/dev/null 2>&1; then
    tarball="$(mktemp --suffix=.tar)"
    "$py" "$here/scripts/busybox_rootfs.py" "$tarball"
    "$composer" image import "$tarball" composer/busybox:latest >/dev/null
    rm -f "$tarball"
fi

cd "$here/examples/hello"
"$composer" up -d
"$composer" ps
for _ in $(seq 50); do
    if page="$(curl -fsS http://127.0.0.1:8080/cgi-bin/hello 2>/dev/null)"; then
        echo "$page"
        echo "The example stack is up: http://127.0.0.1:8080/  (stop it with: cd examples/hello && composer down)"
        exit 0
    fi
    sleep 0.1
done
echo "the example stack did not answer on 127.0.0.1:8080" >&2
"$composer" logs >&2 || true
exit 1
