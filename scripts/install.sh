#!/usr/bin/env bash
# Installs what composer needs on Debian 12 (as root): system packages and a virtualenv in .venv with
# composer and its dependencies; `install.sh` also links /usr/local/bin/composer, `install.sh test`
# adds the test tools instead. Safe to run again.
#   install.sh [test] [--bin PATH] [--force]
#     --bin PATH  where the `composer` command goes (default /usr/local/bin/composer)
#     --force     replace whatever is at that path (without it, another program there, such as PHP's
#                 Composer, is left alone and the install stops with a one-line message)
#     --check     only say whether the command path is free for composer (exit 0) or not (exit 1)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extra=""   # "test" also installs the test tools
bin="${COMPOSER_BIN:-/usr/local/bin/composer}"
force=""
check=""
while [ $# -gt 0 ]; do
    case "$1" in
        test) extra=test ;;
        --force) force=1 ;;
        --check) check=1 ;;
        --bin) [ $# -ge 2 ] || { echo "install.sh: --bin needs a path" >&2; exit 2; }; bin="$2"; shift ;;
        --bin=*) bin="${1#--bin=}" ;;
        *) echo "install.sh: unknown argument '$1' (use: install.sh [test] [--bin PATH] [--force] [--check])" >&2; exit 2 ;;
    esac
    shift
done
ours="$here/.venv/bin/composer"
# a composer of ours (this checkout's or another's entry-point script) may be replaced, and so may a
# link that leads nowhere (a removed checkout's); nothing else
if [ "$extra" != "test" ] && [ -z "$force" ] && [ -e "$bin" ] \
        && ! head -c 4096 "$bin" 2>/dev/null | grep -q "from composer.cli.main import"; then
    echo "install.sh: $bin is another program ($(readlink -f "$bin")); not replacing it: use --force to replace it, or --bin PATH to install composer elsewhere" >&2
    exit 1
fi
[ -z "$check" ] || exit 0

need=()
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
[ -x /bin/busybox ] && /bin/busybox --list >/dev/null 2>&1 && ldd /bin/busybox 2>&1 | grep -q "not a dynamic" || need+=(busybox-static)
command -v ip >/dev/null || need+=(iproute2)
command -v iptables >/dev/null || need+=(iptables)  # our own chains: bridged-traffic ACCEPT, outbound NAT
command -v curl >/dev/null || need+=(curl)
if [ "$extra" = "test" ]; then
    [ -x /usr/bin/docker-registry ] || need+=(docker-registry)  # the registry pull/push tests run against
    command -v skopeo >/dev/null || need+=(skopeo)  # a second implementation our archives and pushes must satisfy
    # the attack suite builds static test binaries (tests/security)
    command -v gcc >/dev/null || need+=(gcc)
    [ -f /usr/lib/x86_64-linux-gnu/libc.a ] || [ -f /usr/lib/aarch64-linux-gnu/libc.a ] || need+=(libc6-dev)
    # the real-application image (postgres, redis, nginx, python3) is made from Debian's packages
    command -v debootstrap >/dev/null || need+=(debootstrap)  # (tests/support/debian.py)
fi
if [ "${#need[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ ! -x "$here/.venv/bin/python" ]; then
    python3 -m venv "$here/.venv"
fi
pip=("$here/.venv/bin/pip" install -q --disable-pip-version-check)
if [ "$extra" = "test" ]; then
    "${pip[@]}" -e "$here[test]" --config-settings editable_mode=compat 2> >(grep -v "^WARNING: Location" >&2)
else
    "${pip[@]}" -e "$here" --config-settings editable_mode=compat 2> >(grep -v "^WARNING: Location" >&2)
    mkdir -p "$(dirname "$bin")"
    ln -sfn "$ours" "$bin"
fi
# Byte-compile our own modules once: every composer command and every container's monitor starts a
# fresh interpreter, and where PYTHONDONTWRITEBYTECODE is set nothing would ever be cached.
"$here/.venv/bin/python" -m compileall -q "$here/composer" "$here/engine" >/dev/null
