"""The engine's object commands through the CLI: images, volumes, single containers."""
from __future__ import annotations

import json

from tests.conftest import BASE_IMAGE


def test_image_import_with_changes_then_ls_inspect_rm(cli, engine_root, rootfs_tar):
    res = cli("image", "import", "--change", "ENV GREETING=hello", "--change", 'CMD ["sh", "-c", "echo $GREETING"]',
              rootfs_tar, "mine/base:1", project=False)
    image_id = res.stdout.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71

    listing = cli("image", "ls", project=False).stdout
    assert "mine/base" in listing and "1" in listing and image_id[7:19] in listing

    info = json.loads(cli("image", "inspect", "mine/base:1", project=False).stdout)[0]
    assert info["id"] == image_id
    assert info["repo_tags"] == ["mine/base:1"]
    assert "GREETING=hello" in info["config"]["Env"]

    run = cli("container", "run", "--rm", "mine/base:1", project=False)
    assert run.stdout == "hello\n"

    res = cli("image", "rm", "mine/base:1", project=False)
    assert "Untagged: mine/base:1" in res.stdout and f"Deleted: {image_id}" in res.stdout
    missing = cli("image", "inspect", "mine/base:1", project=False, check=False)
    assert missing.returncode != 0 and "no such image" in missing.stderr.lower()


def test_image_rm_of_one_tag_only_untags(cli, base_image):
    cli("image", "tag", base_image, "other:latest", project=False)
    res = cli("image", "rm", "other", project=False)
    assert res.stdout.strip() == "Untagged: other:latest"
    cli("image", "inspect", base_image, project=False)


def test_container_run_passes_output_and_exit_code(cli, base_image):
    res = cli("container", "run", "--rm", BASE_IMAGE, "sh", "-c", "echo out; echo err >&2; exit 7",
              project=False, check=False)
    assert res.returncode == 7
    assert res.stdout == "out\n"
    assert "err" in res.stderr
    assert "run-" not in cli("container", "ls", "-a", project=False).stdout


def test_container_run_isolation(cli, base_image):
    res = cli("container", "run", "--rm", BASE_IMAGE, "sh", "-c",
              "echo pid=$$; hostname; ls /proc | grep -c '^[0-9]'; cat /proc/self/mountinfo | head -1",
              project=False)
    lines = res.stdout.splitlines()
    assert lines[0] == "pid=1"
    assert len(lines[1]) == 12  # the short container id, as Docker sets it
    assert int(lines[2]) <= 3  # only the container's own processes are visible
    assert "overlay" in lines[3]


def test_container_run_unknown_command(cli, base_image):
    res = cli("container", "run", "--rm", BASE_IMAGE, "no-such-command", project=False, check=False)
    assert res.returncode == 127
    assert "no-such-command" in res.stderr
    assert "Traceback" not in res.stderr
    assert "run-" not in cli("container", "ls", "-a", project=False).stdout


def test_container_run_unknown_image(cli, engine_root):
    res = cli("container", "run", "--rm", "nothere:latest", "true", project=False, check=False)
    assert res.returncode != 0
    assert res.stderr.strip().splitlines() == ["error: no such image: nothere:latest"]


def test_volume_commands(cli, engine_root):
    cli("volume", "create", "v1", project=False)
    assert "v1" in cli("volume", "ls", project=False).stdout
    info = json.loads(cli("volume", "inspect", "v1", project=False).stdout)[0]
    assert info["driver"] == "local" and info["mountpoint"].startswith(engine_root)
    bad = cli("volume", "create", "--driver", "nfs-magic", "v2", project=False, check=False)
    assert bad.returncode != 0 and "nfs-magic" in bad.stderr
    cli("volume", "rm", "v1", project=False)
    assert "v1" not in cli("volume", "ls", project=False).stdout
