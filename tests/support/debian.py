"""A Debian bookworm root filesystem with real applications in it, built without Docker Hub.

busybox alone hides bugs: real daemons (postgres, redis, nginx, a python app) do things busybox
never does (drop privileges, move their stderr, fork workers, keep state in volumes). This builds
their image with `debootstrap --variant=minbase --include=PACKAGES` from the Debian mirror the host's
apt already uses (read from its sources, never named here), trims what a container never reads
(apt lists, the downloaded .debs, docs, man pages, translations), and tars it.

The tarball is cached outside the checkout (`COMPOSER_TEST_CACHE`, default
/var/cache/composer-tests) under a key made of the package list and this recipe, so later runs and
CI on the same machine reuse it; a file lock makes concurrent builders (pytest-xdist workers,
two checkouts) wait for one build. A failed or stuck debootstrap ends in one clear error, bounded
by a timeout, and leaves no mounts or processes behind.

    python3 -m tests.support.debian             # build (or reuse) it; print the tarball's path
    python3 -m tests.support.debian --import    # and import it into composer's engine (--root R)
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from typing import Iterator

SUITE = "bookworm"
# the smallest set that runs the realapp stack: Debian's postgresql 15, redis, nginx (light) and a
# Flask app that talks to both (curl-free: healthchecks use pg_isready, redis-cli, python's urllib)
PACKAGES = ("postgresql", "redis-server", "nginx-light", "python3-flask", "python3-psycopg2", "python3-redis")
REPOSITORY = "composer/debian-apps"
# what every container of the image gets (Docker gives an image without PATH a default one; we
# name it, so that both engines run the same config)
CHANGES = ("ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "ENV LANG=C.UTF-8",
           'CMD ["bash"]')
# bump when the recipe below changes what the tarball holds (the cache key includes it)
RECIPE = "2"
APP_USER = "app"  # uid and gid 1000
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
TIMEOUT = float(os.environ.get("COMPOSER_DEBOOTSTRAP_TIMEOUT", "1200"))
# paths (relative to the new root) a container never reads; their directories stay, emptied
TRIM = ("var/lib/apt/lists", "var/cache/apt", "var/cache/debconf", "usr/share/doc", "usr/share/man",
        "usr/share/info", "usr/share/locale", "usr/share/lintian", "usr/share/linda", "usr/share/i18n",
        # the cluster postgresql's postinst made: the stack initdb's its own into a volume
        "var/lib/postgresql", "etc/postgresql")


class BuildError(RuntimeError):
    """The root filesystem could not be built (the message says why, in one line)."""


def cache_dir() -> str:
    return os.environ.get("COMPOSER_TEST_CACHE", "/var/cache/composer-tests")


def key(packages: tuple[str, ...] = PACKAGES) -> str:
    """A short hash of the package list, the suite and the recipe: the cache key and the image tag."""
    text = "\n".join([SUITE, RECIPE, *sorted(set(packages)), *CHANGES])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def image_ref(packages: tuple[str, ...] = PACKAGES) -> str:
    return f"{REPOSITORY}:{key(packages)}"


def mirror(sources_dir: str = "/etc/apt") -> str:
    """The URI of the host's Debian archive for SUITE (not its security archive), from apt's
    deb822 sources (sources.list.d/*.sources) or its one-line sources.list."""
    found: list[str] = []
    d = os.path.join(sources_dir, "sources.list.d")
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if not name.endswith(".sources"):
            continue
        with open(os.path.join(d, name)) as f:
            for stanza in re.split(r"\n\s*\n", f.read()):
                fields: dict[str, str] = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line or line[:1].isspace():
                        continue
                    k, _, v = line.partition(":")
                    fields[k.strip().lower()] = v.strip()
                if ("deb" in fields.get("types", "").split() and SUITE in fields.get("suites", "").split()
                        and fields.get("enabled", "yes").lower() != "no"):
                    found += fields.get("uris", "").split()
    legacy = os.path.join(sources_dir, "sources.list")
    if not found and os.path.exists(legacy):
        with open(legacy) as f:
            for line in f:
                m = re.match(r"\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", line)
                if m and m.group(2) == SUITE:
                    found.append(m.group(1))
    if not found:
        raise BuildError(f"no Debian {SUITE} archive in apt's sources under {sources_dir}: "
                         f"add one (as /etc/apt/sources.list.d/debian.sources has it on Debian 12)")
    return found[0]


@contextmanager
def _locked(path: str) -> Iterator[None]:
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def rootfs(packages: tuple[str, ...] = PACKAGES, timeout: float = TIMEOUT, log=None) -> str:
    """The path of the cached root filesystem tarball for *packages*, built first if missing.
    *log* (a callable) hears what is going on. Raises BuildError."""
    say = log or (lambda line: None)
    cache = cache_dir()
    os.makedirs(cache, mode=0o755, exist_ok=True)
    out = os.path.join(cache, f"debian-apps-{key(packages)}.tar")
    if os.path.exists(out):
        return out
    with _locked(out + ".lock"):
        if os.path.exists(out):  # another worker built it while this one waited
            return out
        say(f"building {out} with debootstrap ({' '.join(packages)}); this takes a few minutes once")
        _build(out, packages, timeout, say)
    return out


def _build(out: str, packages: tuple[str, ...], timeout: float, say) -> None:
    if shutil.which("debootstrap") is None:
        raise BuildError("debootstrap is not installed: run scripts/install.sh test (or apt-get install debootstrap)")
    uri = mirror()
    work = tempfile.mkdtemp(prefix="debian-apps-", dir=os.path.dirname(out))
    target = os.path.join(work, "root")
    log_path = out + ".log"
    open(log_path, "w").close()
    started = time.monotonic()
    try:
        # (debootstrap keeps the maintainer scripts from starting the daemons: its own policy-rc.d)
        _run(["debootstrap", "--variant=minbase", f"--keyring={KEYRING}", "--include=" + ",".join(packages),
              SUITE, target, uri], log_path, timeout, "debootstrap")
        _trim(target)
        tmp = out + f".tmp.{os.getpid()}"
        # /dev, /proc and /sys come from the engine: their entries stay out of the image
        _run(["tar", "--numeric-owner", "--xattrs", "--sort=name", "-C", target, "-cf", tmp,
              "--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*", "--exclude=./tmp/*", "."],
             log_path, 600, "tar")
        os.rename(tmp, out)
        say(f"built {out} ({os.path.getsize(out) >> 20} MiB) in {time.monotonic() - started:.0f} s")
    finally:
        for name in os.listdir(os.path.dirname(out)):
            if name.startswith(os.path.basename(out) + ".tmp."):
                try:
                    os.unlink(os.path.join(os.path.dirname(out), name))
                except FileNotFoundError:
                    pass
        _release(target)
        shutil.rmtree(work, ignore_errors=True)


def _run(cmd: list[str], log_path: str, timeout: float, stage: str) -> None:
    with open(log_path, "a") as log:
        log.write(f"\n$ {' '.join(cmd)}\n")
        log.flush()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive",
                                                             "LC_ALL": "C.UTF-8"})
        try:
            rc = proc.wait(timeout=max(timeout, 1))
        except subprocess.TimeoutExpired:
            _kill(proc)
            raise BuildError(f"{stage} did not finish within {timeout:.0f} s "
                             f"(COMPOSER_DEBOOTSTRAP_TIMEOUT); its output is in {log_path}") from None
        except BaseException:  # interrupted: nothing of the build may go on running
            _kill(proc)
            raise
    if rc != 0:
        raise BuildError(f"{stage} failed with exit status {rc}: {_last_error(log_path)} "
                         f"(the whole output is in {log_path})")


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _last_error(log_path: str) -> str:
    with open(log_path, errors="replace") as f:
        lines = [line.strip() for line in f if line.strip()]
    for line in reversed(lines):
        if line.startswith(("E:", "W: Failure", "tar:")) or "error" in line.lower():
            return line
    return lines[-1] if lines else "no output"


def _trim(target: str) -> None:
    for rel in TRIM:
        path = os.path.join(target, rel)
        if not os.path.isdir(path):
            continue
        for entry in os.listdir(path):
            p = os.path.join(path, entry)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            else:
                os.unlink(p)
    # logs go, their directories (nginx's, postgres's) stay with their owners
    for top, _, files in os.walk(os.path.join(target, "var/log")):
        for name in files:
            os.unlink(os.path.join(top, name))
    shutil.rmtree(os.path.join(target, "debootstrap"), ignore_errors=True)
    # an unprivileged user of its own for the application, as an image made for one would have
    for name, line in (("passwd", f"{APP_USER}:x:1000:1000::/nonexistent:/usr/sbin/nologin\n"),
                       ("group", f"{APP_USER}:x:1000:\n"), ("shadow", f"{APP_USER}:!:19000::::::\n")):
        with open(os.path.join(target, "etc", name), "a") as f:
            f.write(line)
    for name in ("var/lib/apt/lists/partial", "var/cache/apt/archives/partial", "var/log/apt"):
        os.makedirs(os.path.join(target, name), exist_ok=True)


def _release(target: str) -> None:
    """What a failed or killed debootstrap may leave: processes rooted in *target* (maintainer
    scripts' daemons) and mounts under it (its /proc and /sys)."""
    real = os.path.realpath(target)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            root = os.readlink(f"/proc/{entry}/root")
        except OSError:
            continue
        if root == real or root.startswith(real + "/"):
            try:
                os.kill(int(entry), signal.SIGKILL)
            except ProcessLookupError:
                pass
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f]
    for m in sorted((m for m in mounts if m == real or m.startswith(real + "/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", m], capture_output=True)


def import_into(engine_root: str | None, tar: str, ref: str | None = None, also: tuple[str, ...] = ()) -> str:
    """Import *tar* into the engine at *engine_root* (None: the default one, COMPOSER_ROOT) as *ref*
    (default: the image ref for PACKAGES) and the tags in *also*, with the image config both engines
    get (`composer image import -c ...` / `docker import -c ...`); returns the ref."""
    from engine.api import Engine

    ref = ref or image_ref()
    engine = Engine(engine_root) if engine_root else Engine()
    engine.import_image(tar, ref, list(CHANGES))
    for tag in also:
        engine.tag_image(ref, tag)
    return ref


def main(argv: list[str]) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python3 -m tests.support.debian", description=__doc__.split("\n\n")[0])
    ap.add_argument("--import", dest="import_", action="store_true",
                    help=f"import it into the engine (as {image_ref()} and {REPOSITORY}:latest)")
    ap.add_argument("--root", help="the engine root to import into (default: composer's)")
    ap.add_argument("--print-ref", action="store_true", help="print the image reference, build nothing")
    args = ap.parse_args(argv)
    if args.print_ref:
        print(image_ref())
        return 0
    try:
        tar = rootfs(log=lambda line: print(line, file=sys.stderr, flush=True))
    except BuildError as e:
        print(f"debian image: {e}", file=sys.stderr)
        return 1
    if args.import_ or args.root:
        print(import_into(args.root, tar, also=(f"{REPOSITORY}:latest",)))
    else:
        print(tar)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
