#!/usr/bin/env bash
# Brings up the realapp stack: builds the Debian image once (debootstrap from the mirror apt uses;
# cached in /var/cache/composer-tests), imports it, starts the four services and asks nginx.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
[ -x "$repo/.venv/bin/python" ] || "$repo/scripts/install.sh"
command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
composer="$repo/.venv/bin/composer"
py="$repo/.venv/bin/python"

ref="$(cd "$repo" && "$py" -m tests.support.debian --print-ref)"
if ! "$composer" image inspect "$ref" >/dev/null 2>&1; then
    (cd "$repo" && "$py" -m tests.support.debian --import) >/dev/null
fi
"$composer" image tag "$ref" composer/debian-apps:latest

cd "$here"
# a file secret is mounted as the host file is (Docker Compose ignores uid/gid/mode for file
# sources): the app's own key belongs to its user, readable by nobody else
if [ ! -f flask_secret.txt ]; then
    (umask 077; head -c 24 /dev/urandom | base64 > flask_secret.txt)
fi
chown 1000:1000 flask_secret.txt
chmod 0400 flask_secret.txt
"$composer" up -d --wait
"$composer" ps
port="${HTTP_PORT:-$(sed -n 's/^HTTP_PORT=//p' .env)}"
curl -fsS "http://127.0.0.1:${port:-8080}/"
echo "realapp is up: http://127.0.0.1:${port:-8080}/  (stop it with: cd examples/realapp && composer down -v)"
