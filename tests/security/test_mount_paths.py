"""Paths that a build context, an image or a running container controls stay inside it when mounted.

- RUN --mount=type=bind: a symlink of the build context is followed inside the context only (as
  BuildKit does), read-only and rw; the host's files are neither listed nor written.
- Mount targets: a symlink in an image is resolved inside the container's root; a target that lands in
  /proc is refused (as runc does); a directory swapped for a symlink while the mount is made (runc
  CVE-2021-30465) cannot send the mount or its mount point out of the root.
- A volume's subpath stays beneath the volume.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time

import pytest

from engine.snapshots import safepath
from engine.snapshots.safepath import PathEscape, fd_path, open_in_root
from tests.conftest import BASE_IMAGE
from tests.integration.test_runtime_support import host_fixture, wait_exit


@pytest.fixture
def outside():
    """A host directory outside every root of the test, with a canary file."""
    d = tempfile.mkdtemp(prefix="composer-outside-")
    with open(os.path.join(d, "canary.txt"), "w") as f:
        f.write("host secret\n")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _host_files(d: str) -> dict[str, str]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(d):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            out[os.path.relpath(path, d)] = open(path).read() if os.path.isfile(path) else "<dir>"
    return out


# -- resolution: the kernel's (openat2) and the O_PATH walk used where openat2 is missing --------

@pytest.fixture(params=["openat2", "walk"])
def resolver(request, monkeypatch):
    monkeypatch.setattr(safepath, "_openat2_missing", request.param == "walk")
    return request.param


def _real(fd: int) -> str:
    try:
        return os.readlink(fd_path(fd))
    finally:
        os.close(fd)


def test_symlinks_resolve_inside_the_root(resolver, tmp_path, outside):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "a" / "b").mkdir(parents=True)
    os.symlink("/etc", root / "abs")  # absolute: the root's etc, not the host's
    os.symlink("../../../../../../../../" + outside.lstrip("/"), root / "a" / "b" / "up")  # `..` stops at the root
    os.symlink(outside + "/made", root / "dangling")
    rfd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        assert _real(open_in_root(rfd, "abs")) == str(root / "etc")
        assert _real(open_in_root(rfd, "/a/b/../../abs/")) == str(root / "etc")
        with pytest.raises(FileNotFoundError):
            open_in_root(rfd, "a/b/up/canary.txt")  # would be the host's canary if followed out
        # missing components are made inside the root, through the dangling link, never on the host
        made = _real(open_in_root(rfd, "dangling/new", create="dir"))
        assert made == str(root) + outside + "/made/new" and os.path.isdir(made)
        assert _real(open_in_root(rfd, "a/file", create="file")) == str(root / "a" / "file")
        assert sorted(os.listdir(outside)) == ["canary.txt"]
        # beneath (a volume's subpath): a way out is refused, not clamped
        for escape in ("abs", "a/b/up", "..", "a/../../x"):
            with pytest.raises(PathEscape):
                open_in_root(rfd, escape, beneath=True)
        assert _real(open_in_root(rfd, "a/b", beneath=True)) == str(root / "a" / "b")
    finally:
        os.close(rfd)


# -- RUN --mount=type=bind: symlinks of the build context (hole 6) --------------------------------

def _symlinked_context(cli, outside: str) -> None:
    """A context whose `linkdir` and `nest/link` point at the host directory *outside*; the same path
    taken inside the context (as BuildKit takes it) holds `inctx.txt`."""
    os.symlink(outside, os.path.join(cli.cwd, "linkdir"))
    os.makedirs(os.path.join(cli.cwd, "nest"))
    os.symlink(outside, os.path.join(cli.cwd, "nest", "link"))
    cli.write(outside.lstrip("/") + "/inctx.txt", "in the context\n")


def test_run_bind_mount_through_a_context_symlink_does_not_list_the_host(cli, engine_root, base_image, outside):
    _symlinked_context(cli, outside)
    cli.write("Dockerfile", f"""FROM {BASE_IMAGE}
RUN --mount=type=bind,source=linkdir,target=/m ls /m > /ro.txt; cat /m/canary.txt >> /ro.txt; true
RUN --mount=type=bind,source=nest/link,target=/n ls /n > /nested.txt; true
RUN --mount=type=bind,source=.,target=/c cat /c/linkdir/canary.txt > /dot.txt 2>&1; true
""")
    cli("image", "build", "-t", "ctxlink", ".", project=False)
    out = cli("container", "run", "--rm", "ctxlink", "sh", "-c",
              "cat /ro.txt; echo --; cat /nested.txt; echo --; cat /dot.txt", project=False).stdout
    ro, nested, dot = out.split("--\n")
    assert "host secret" not in out and "canary" not in ro + nested, out
    assert ro.split() == ["inctx.txt"] and nested.split() == ["inctx.txt"], out
    assert "No such file" in dot or "can't open" in dot, dot
    # a link to a host file: the context has no such file, so the step does not run
    os.symlink(os.path.join(outside, "canary.txt"), os.path.join(cli.cwd, "filelink"))
    res = cli("image", "build", "-t", "filelink", "-f", "-", ".", project=False, check=False,
              input=f"FROM {BASE_IMAGE}\nRUN --mount=type=bind,source=filelink,target=/f cat /f\n")
    assert res.returncode != 0 and "host secret" not in res.stdout + res.stderr, res.stdout
    assert "RUN --mount source filelink: no such file or directory in the build context (its symlinks lead to " \
        f"{outside}/canary.txt, taken inside the context)" in res.stderr, res.stderr


def test_run_bind_mount_rw_through_a_context_symlink_does_not_write_the_host(cli, engine_root, base_image,
                                                                             outside):
    _symlinked_context(cli, outside)
    before = _host_files(outside)
    cli.write("Dockerfile", f"""FROM {BASE_IMAGE}
RUN --mount=type=bind,source=linkdir,target=/w,rw \\
    echo pwned > /w/canary.txt; echo planted > /w/planted.txt; ls /w > /rw.txt
RUN --mount=type=bind,source=nest/link,target=/w,rw echo pwned > /w/canary.txt; true
""")
    cli("image", "build", "-t", "ctxlink", ".", project=False)
    assert _host_files(outside) == before  # the host directory: neither written nor added to
    assert open(os.path.join(outside, "canary.txt")).read() == "host secret\n"
    out = cli("container", "run", "--rm", "ctxlink", "cat", "/rw.txt", project=False).stdout
    assert out.split() == ["canary.txt", "inctx.txt", "planted.txt"]  # the step wrote to a copy of the context's
    assert not os.path.exists(os.path.join(cli.cwd, outside.lstrip("/"), "planted.txt"))


# -- mount targets of an image ---------------------------------------------------------------------

def test_symlinked_mount_targets_of_an_image_stay_inside_the_rootfs(cli, engine_root, base_image, outside,
                                                                    tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "from-host.txt").write_text("bound\n")
    cli.write("Dockerfile", f"""FROM {BASE_IMAGE}
RUN ln -s /../../../../../../../..{outside}/x /data && ln -s /proc/sys/kernel /procdir \\
 && ln -s /proc/self/root{outside}/y /magic && mkdir /sub && ln -s ../../../proc/sys /sub/rel
""")
    cli("image", "build", "-t", "links", ".", project=False)
    before = _host_files(outside)
    out = cli("container", "run", "--rm", "-v", f"{src}:/data", "links", "sh", "-c",
              f"cat /data/from-host.txt; echo made > /data/new.txt; ls {outside}/x", project=False).stdout
    assert out.split() == ["bound", "from-host.txt", "new.txt"]  # mounted at the rootfs's <outside>/x
    assert (src / "new.txt").read_text() == "made\n"
    for target in ("/procdir", "/sub/rel"):  # into the container's /proc: refused, as runc does
        res = cli("container", "run", "--rm", "-v", f"{src}:{target}", "links", "true", project=False, check=False)
        assert res.returncode != 0, target
        assert len(res.stderr.strip().splitlines()) == 1 and "inside /proc" in res.stderr, res.stderr
    vol = f"{cli.project}_seed"  # a new named volume there: refused, and not seeded from the container's /proc
    res = cli("container", "run", "--rm", "-v", f"{vol}:/procdir", "links", "true", project=False, check=False)
    assert res.returncode != 0 and "inside /proc" in res.stderr, res.stderr
    listing = cli("container", "run", "--rm", "-v", f"{vol}:/v", BASE_IMAGE, "ls", "-A", "/v", project=False)
    assert listing.stdout == ""
    cli("volume", "rm", vol, project=False)
    # through a magic link of /proc: never followed (refused by openat2, or resolved inside the root)
    res = cli("container", "run", "--rm", "-v", f"{src}:/magic", "links", "true", project=False, check=False)
    assert res.returncode == 0 or len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert _host_files(outside) == before  # nothing made or mounted on the host's directory


# -- a volume's subpath ---------------------------------------------------------------------------

def test_volume_subpath_escapes_are_refused(cli, engine_root, base_image, outside):
    vol = f"{cli.project}_data"
    cli("volume", "create", vol, project=False)
    cli("container", "run", "--rm", "-v", f"{vol}:/d", BASE_IMAGE, "sh", "-c",
        f"mkdir -p /d/sub/deep && echo inside > /d/sub/deep/f && ln -s {outside} /d/abs && ln -s ../../.. /d/up"
        f" && ln -s / /d/sub/root && ln -s ../../../../../../..{outside} /d/sub/rel", project=False)
    def compose(sub: str) -> None:
        cli.write("compose.yaml", f"""services:
  app:
    image: {BASE_IMAGE}
    command: ["cat", "/mnt/canary.txt", "/mnt/f"]
    volumes:
      - type: volume
        source: data
        target: /mnt
        volume: {{subpath: "{sub}"}}
volumes:
  data: {{external: true, name: {vol}}}
""")

    for sub in ("abs", "up", "sub/root", "sub/rel", "sub/rel/canary.txt", "sub/../../x", "sub/deep/../../.."):
        compose(sub)
        res = cli("up", "-d", check=False)
        logs = cli("logs", check=False).stdout
        cli("down", check=False)
        assert res.returncode != 0 and "host secret" not in logs, sub
        errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "subpath" in errors[0], (sub, res.stderr)
    compose("sub/./deep")
    cli("up", "-d")
    wait = time.monotonic() + 60
    while "inside" not in cli("logs").stdout and time.monotonic() < wait:
        time.sleep(0.2)
    assert "inside" in cli("logs").stdout
    cli("down")


# -- the race: a directory swapped for a symlink while the mount point is made (CVE-2021-30465) -----

SWAPPER = r"""
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* in DIR: exchange the directory d and a symlink l (to TARGET) as fast as possible, for SECONDS */
int main(int argc, char **argv) {
    if (argc != 4 || chdir(argv[1]) != 0) return 2;
    mkdir("d", 0755);
    if (symlink(argv[2], "l") != 0) return 3;
    printf("swapping\n");
    fflush(stdout);
    time_t end = time(NULL) + atoi(argv[3]);
    while (time(NULL) < end)
        for (int i = 0; i < 10000; i++)
            syscall(SYS_renameat2, AT_FDCWD, "d", AT_FDCWD, "l", 2 /* RENAME_EXCHANGE */);
    return 0;
}
"""


@pytest.fixture
def host():
    yield from host_fixture()


@pytest.mark.parametrize("kind", ["tmpfs", "bind"])
def test_a_directory_swapped_for_a_symlink_cannot_send_a_mount_out(host, tmp_path, outside, kind):
    from engine.errors import EngineError
    from engine.runtime import launch
    from tests.integration.test_runtime_support import output, wait_for

    bindir = tmp_path / "bin"
    bindir.mkdir()
    (tmp_path / "swap.c").write_text(SWAPPER)
    subprocess.run(["gcc", "-static", "-O2", "-o", str(bindir / "swap"), str(tmp_path / "swap.c")], check=True)
    shared = tmp_path / "shared"  # a volume both containers mount; the attacker controls its content
    shared.mkdir()
    source = tmp_path / "source"  # what a bind victim mounts
    source.mkdir()
    attacker = host.container(["/opt/attack/swap", "/v", outside, "120"], mounts=[
        {"type": "bind", "source": str(shared), "target": "/v", "read_only": False},
        {"type": "bind", "source": str(bindir), "target": "/opt/attack", "read_only": True}])
    launch.start(attacker)
    wait_for(lambda: "swapping" in output(attacker), timeout=30, what="the swapper")
    before = _host_files(outside)
    deadline = time.monotonic() + 60
    started = 0
    try:
        for i in range(40):
            if time.monotonic() > deadline:
                break
            # each victim makes new mount points below d: the window between resolving and making them
            mount = {"type": "tmpfs", "options": "mode=755,size=64k"} if kind == "tmpfs" else \
                {"type": "bind", "source": str(source), "read_only": True}
            victim = host.container(["true"], mounts=[
                {"type": "bind", "source": str(shared), "target": "/v", "read_only": False},
                *({**mount, "target": f"/v/d/sub{i}-{k}/deep"} for k in range(4))])
            try:
                launch.start(victim)
                started += 1
            except EngineError:
                pass  # refused (a mount point moved while it was mounted): safe, not a way out
            wait_exit(victim, timeout=30)
            launch.clean_after_monitor(victim)
            assert _host_files(outside) == before, f"attempt {i}: made outside the container's root"
    finally:
        launch.kill(attacker, "KILL")
        wait_exit(attacker, timeout=30)
    assert started > 0  # the victims did run (the race did not just make every start fail)
