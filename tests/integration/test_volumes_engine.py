"""Volumes through the engine's commands: seeding from the image, nocopy, anonymous volumes with
run --rm and rm -v, and the volume commands (create, inspect, ls filters, rm, prune)."""
from __future__ import annotations

import json
import os
import tarfile

import pytest

SEEDED = "seeded:1"


@pytest.fixture
def seeded_image(engine_root, tmp_path) -> str:
    """The base image plus /srv/seed: a root-owned file, a file and a directory owned by nobody."""
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
    from busybox_rootfs import build

    from engine.api import Engine

    out = str(tmp_path / "seeded.tar")
    build(out, {"srv/seed/hello.txt": "from the image\n"})
    with tarfile.open(out, "a") as tar:
        for name, kind, mode in (("srv/seed/sub", tarfile.DIRTYPE, 0o750), ("srv/seed/owned", tarfile.REGTYPE, 0o640)):
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode, ti.uid, ti.gid = kind, mode, 65534, 65534
            tar.addfile(ti)
    Engine(engine_root).import_image(out, SEEDED, [])
    return SEEDED


def run(cli, *args, check=True):
    return cli("container", "run", "--rm", *args, project=False, check=check)


def volumes(cli, *extra) -> list[str]:
    return cli("volume", "ls", "-q", *extra, project=False).stdout.split()


def test_named_volume_is_seeded_from_the_image_once(cli, seeded_image):
    show = "cat /srv/seed/hello.txt; stat -c '%n %u:%g %a' /srv/seed/owned /srv/seed/sub"
    out = run(cli, "-v", "data:/srv/seed", seeded_image, "sh", "-c", show).stdout
    assert out.splitlines() == ["from the image", "/srv/seed/owned 65534:65534 640", "/srv/seed/sub 65534:65534 750"]
    # emptied, it stays empty: a volume is seeded on its first use only
    run(cli, "-v", "data:/srv/seed", seeded_image, "sh", "-c", "rm -r /srv/seed/*")
    assert run(cli, "-v", "data:/srv/seed", seeded_image, "ls", "-A", "/srv/seed").stdout == ""
    # nocopy: a new volume left empty
    assert run(cli, "-v", "fresh:/srv/seed:nocopy", seeded_image, "ls", "-A", "/srv/seed").stdout == ""
    # a volume that already has content is not overwritten
    run(cli, "-v", "mine:/x", seeded_image, "sh", "-c", "echo mine > /x/own")
    cli("container", "run", "--rm", "-v", "mine:/srv/seed", seeded_image, "true", project=False)
    assert run(cli, "-v", "mine:/srv/seed", seeded_image, "ls", "-A", "/srv/seed").stdout == "own\n"
    # a volume on /etc: seeded with the image's files, and the engine's hosts/hostname stay on top
    out = run(cli, "-v", "etc:/etc", seeded_image, "sh", "-c", "head -n 1 /etc/passwd; cat /etc/hostname").stdout
    passwd, hostname = out.splitlines()  # the image's /etc/hostname is empty; the container's is its id
    assert passwd == "root:x:0:0:root:/root:/bin/sh" and len(hostname) == 12
    assert sorted(volumes(cli)) == ["data", "etc", "fresh", "mine"]


def test_anonymous_volumes_go_with_run_rm_and_rm_v(cli, seeded_image):
    out = run(cli, "-v", "/srv/seed", seeded_image, "cat", "/srv/seed/hello.txt").stdout
    assert out == "from the image\n"
    assert volumes(cli) == []  # run --rm took its anonymous volume
    cli("container", "run", "--name", "keep", "-v", "/cache", seeded_image, "touch", "/cache/x", project=False)
    (anon,) = volumes(cli)
    assert len(anon) == 64 and all(c in "0123456789abcdef" for c in anon)
    info = json.loads(cli("volume", "inspect", anon, project=False).stdout)[0]
    assert "com.docker.volume.anonymous" in info["Labels"]
    assert os.path.exists(os.path.join(info["Mountpoint"], "x"))
    cli("container", "rm", "-v", "keep", project=False)
    assert volumes(cli) == []


def test_volume_commands_filters_rm_and_prune(cli, seeded_image):
    cli("volume", "create", "--label", "tier=db", "-d", "local", "named", project=False)
    cli("volume", "create", "used", project=False)
    cli("container", "run", "--name", "user", "-v", "used:/u", "-v", "/anon", seeded_image, "true", project=False)
    cli("container", "run", "--name", "gone", "-v", "/anon2", seeded_image, "true", project=False)
    cli("container", "rm", "gone", project=False)  # without -v: its anonymous volume stays, dangling
    anon = [v for v in volumes(cli) if len(v) == 64]
    assert len(anon) == 2
    dangling = volumes(cli, "--filter", "dangling=true")
    assert "named" in dangling and "used" not in dangling and len(dangling) == 2
    assert volumes(cli, "--filter", "label=tier=db") == ["named"]
    assert volumes(cli, "--filter", "name=use") == ["used"]
    lines = cli("volume", "ls", "--format", "json", project=False).stdout.splitlines()
    assert {json.loads(line)["Name"] for line in lines} == set(volumes(cli))

    busy = cli("volume", "rm", "used", project=False, check=False)
    assert busy.returncode != 0 and busy.stderr.strip().splitlines() == [
        "error: volume used is in use by container(s) user: remove them first"]
    assert cli("volume", "rm", "-f", "nothere", project=False).returncode == 0
    assert cli("volume", "rm", "nothere", project=False, check=False).returncode != 0

    # Docker 23+: prune takes unused anonymous volumes only; -a all unused ones
    out = cli("volume", "prune", "-f", project=False).stdout
    assert out.startswith("Deleted Volumes:\n") and "Total reclaimed space:" in out
    left = volumes(cli)
    assert "named" in left and "used" in left and len([v for v in left if len(v) == 64]) == 1
    cli("volume", "prune", "-a", "-f", project=False)
    assert sorted(volumes(cli)) == sorted(v for v in left if v != "named")
    cli("container", "rm", "-v", "user", project=False)
    assert volumes(cli) == ["used"]
    cli("volume", "rm", "used", project=False)


def test_bad_volume_options_are_one_line_errors(cli, base_image):
    bad = cli("volume", "create", "-o", "nonsense=1", "v", project=False, check=False)
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1 and "nonsense" in bad.stderr
    assert volumes(cli) == []


def test_local_driver_options_tmpfs_and_bind_volumes(cli, seeded_image, tmp_path):
    cli("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m,mode=0700", "tv",
        project=False)
    info = json.loads(cli("volume", "inspect", "tv", project=False).stdout)[0]
    assert info["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=1m,mode=0700"}
    out = run(cli, "-v", "tv:/srv/seed", seeded_image, "sh", "-c",
              "df -k /srv/seed | tail -n 1; stat -c %a /srv/seed; cat /srv/seed/hello.txt").stdout.splitlines()
    assert out[0].split()[0] == "tmpfs" and out[0].split()[1] == "1024"
    assert out[2] == "from the image"  # a tmpfs volume is seeded too

    host = tmp_path / "bound"
    host.mkdir()
    (host / "f").write_text("host\n")
    cli("volume", "create", "-o", "type=none", "-o", "o=bind", "-o", f"device={host}", "bv", project=False)
    assert run(cli, "-v", "bv:/b", seeded_image, "sh", "-c", "cat /b/f; echo back > /b/g").stdout == "host\n"
    assert (host / "g").read_text() == "back\n"
    bad = cli("volume", "create", "-o", "o=bind", "-o", "device=/x", "nt", project=False, check=False)
    assert bad.returncode != 0 and "type" in bad.stderr
    cli("volume", "create", "-o", "type=none", "-o", "o=bind", "-o", f"device={tmp_path}/absent", "gone",
        project=False)
    res = run(cli, "-v", "gone:/g", seeded_image, "true", check=False)
    assert res.returncode != 0 and res.stderr.strip().splitlines() == [
        f"error: volume gone: its device {tmp_path}/absent is not a directory on the host"]


def test_a_volume_snapshot_restores_until_it_is_removed(engine_root):
    """A snapshot is a full copy of the volume's data kept beside it: it restores any number of
    times, and removing it frees that copy (restoring it is then an error)."""
    from engine.api import Engine, NotFound

    eng = Engine(engine_root)
    vol = eng.create_volume("snapped")
    data = os.path.join(vol.mountpoint, "state.txt")
    with open(data, "w") as f:
        f.write("before\n")
    snap = eng.snapshot_volume("snapped")
    kept = os.path.join(os.path.dirname(vol.mountpoint), "snapshots", snap)
    assert os.path.isfile(os.path.join(kept, "state.txt"))
    for _ in range(2):
        with open(data, "w") as f:
            f.write("after\n")
        eng.restore_volume("snapped", snap)
        with open(data) as f:
            assert f.read() == "before\n"

    eng.remove_volume_snapshot("snapped", snap)
    assert not os.path.exists(kept)
    with pytest.raises(NotFound):
        eng.restore_volume("snapped", snap)
    eng.remove_volume("snapped")
