"""Image listing filters, prune, history, system df and container export, as a user runs them."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile

from engine.api import Engine
from tests.conftest import REPO


def _ls(cli, *args: str) -> list[dict]:
    return [json.loads(line) for line in cli("image", "ls", "--format", "json", *args).stdout.splitlines()]


def _import(engine_root: str, rootfs_tar: str, ref: str | None, label: str) -> str:
    return Engine(engine_root).import_image(rootfs_tar, ref, [f"LABEL which={label}"]).id


def test_ls_filters_and_prune(cli, engine_root, rootfs_tar):
    old = _import(engine_root, rootfs_tar, "app:1", "old")
    mid = _import(engine_root, rootfs_tar, "other/tool:2", "mid")
    new = _import(engine_root, rootfs_tar, "app:1", "new")  # takes app:1: the first image is dangling now
    assert {i["ID"] for i in _ls(cli)} == {old[7:19], mid[7:19], new[7:19]}
    assert [(i["Repository"], i["Tag"]) for i in _ls(cli, "--filter", "dangling=true")] == [("<none>", "<none>")]
    assert {i["ID"] for i in _ls(cli, "--filter", "dangling=false")} == {mid[7:19], new[7:19]}
    assert [i["ID"] for i in _ls(cli, "--filter", "before=app:1")] == [mid[7:19], old[7:19]]
    assert [i["ID"] for i in _ls(cli, "--filter", "since=other/tool:2")] == [new[7:19]]
    assert [i["Repository"] for i in _ls(cli, "--filter", "reference=other/*")] == ["other/tool"]
    assert [i["ID"] for i in _ls(cli, "--filter", "label=which=mid")] == [mid[7:19]]
    assert cli("image", "ls", "-q", "--filter", "reference=app").stdout.split() == [new[7:19]]
    assert cli("image", "ls", "-q", "--no-trunc", "app").stdout.split() == [new]
    table = cli("image", "ls", "-a").stdout.splitlines()
    assert table[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"] and len(table) == 4
    bad = cli("image", "ls", "--filter", "color=red", check=False)
    assert bad.returncode != 0 and bad.stderr.startswith("error: invalid filter")

    out = cli("image", "prune", "-f").stdout
    assert f"deleted: {old}" in out and "Total reclaimed space: 0B" in out  # its layer is shared
    assert {i["ID"] for i in _ls(cli)} == {mid[7:19], new[7:19]}
    # -a: every image no container uses; the one a container uses stays
    cli("container", "run", "--name", "keeper", "app:1", "true")
    out = cli("image", "prune", "-a", "-f").stdout
    assert "untagged: other/tool:2" in out and f"deleted: {mid}" in out and new not in out
    assert [i["ID"] for i in _ls(cli)] == [new[7:19]]
    assert cli("image", "prune", "-f").stdout.strip() == "Total reclaimed space: 0B"
    cli("container", "rm", "keeper")


def test_history_and_df(cli, engine_root, base_image):
    rows = cli("image", "history", base_image).stdout.splitlines()
    assert rows[0].split()[:2] == ["IMAGE", "CREATED"] and len(rows) == 2
    image_id = json.loads(cli("image", "inspect", base_image).stdout)[0]["id"]
    assert rows[1].startswith(image_id[7:19])
    entries = [json.loads(line) for line in cli("image", "history", "--format", "json", base_image).stdout.splitlines()]
    assert entries[0]["Comment"].startswith("Imported from") and entries[0]["Tags"] == [base_image]
    df = {r["Type"]: r for r in map(json.loads, cli("system", "df", "--format", "json").stdout.splitlines())}
    assert df["Images"]["TotalCount"] == "1" and df["Images"]["Active"] == "0"
    assert df["Images"]["Size"].endswith("MB") and df["Images"]["Reclaimable"].endswith("(100%)")
    cli("volume", "create", "data")
    cli("container", "run", "--name", "writer", base_image, "sh", "-c", "head -c 300000 /dev/zero > /big")
    df = {r["Type"]: r for r in map(json.loads, cli("system", "df", "--format", "json").stdout.splitlines())}
    assert df["Images"]["Active"] == "1" and df["Images"]["Reclaimable"].startswith("0B")
    assert df["Containers"]["TotalCount"] == "1" and df["Containers"]["Size"] != "0B"
    assert df["Local Volumes"]["TotalCount"] == "1"
    assert cli("system", "df").stdout.splitlines()[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    cli("container", "rm", "writer")
    cli("volume", "rm", "data")


def test_container_export(cli, engine_root, base_image, tmp_path):
    cli("container", "run", "--name", "exp", base_image, "sh", "-c",
        "echo hello > /greeting && mkdir -p /d && ln -s /greeting /d/link && rm /bin/true")
    out = str(tmp_path / "fs.tar")
    cli("container", "export", "-o", out, "exp")
    with tarfile.open(out) as t:
        names = set(t.getnames())
        assert t.extractfile("greeting").read() == b"hello\n"
        assert t.getmember("d/link").issym() and t.getmember("d/link").linkname == "/greeting"
    assert "bin/busybox" in names and "bin/true" not in names  # a deleted file is gone, not a whiteout
    assert not any(".wh." in n for n in names)
    # to standard output as well; nothing stays mounted (the per-test leak check looks)
    res = subprocess.run([sys.executable, "-m", "composer", "--root", cli.root, "container", "export", "exp"],
                         capture_output=True, env={**os.environ, "PYTHONPATH": REPO}, timeout=120)
    assert res.returncode == 0, res.stderr
    with tarfile.open(fileobj=io.BytesIO(res.stdout), mode="r:") as t:
        assert "greeting" in t.getnames()
    assert not os.listdir(os.path.join(engine_root, "run", "export"))
    missing = cli("container", "export", "-o", str(tmp_path / "x.tar"), "nosuch", check=False)
    assert missing.returncode != 0 and missing.stderr.startswith("error:")
    cli("container", "rm", "exp")
