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
    assert info["Driver"] == "local" and info["Mountpoint"].startswith(engine_root) and info["Name"] == "v1"
    bad = cli("volume", "create", "--driver", "nfs-magic", "v2", project=False, check=False)
    assert bad.returncode != 0 and "nfs-magic" in bad.stderr
    cli("volume", "rm", "v1", project=False)
    assert "v1" not in cli("volume", "ls", project=False).stdout


def test_image_load_then_run(cli, engine_root, rootfs_tar, tmp_path):
    from tests.support.archives import docker_save

    with open(rootfs_tar, "rb") as f:
        base = f.read()
    archive = str(tmp_path / "saved.tar")
    docker_save(archive, [base], ["saved/app:3"], cmd=["sh", "-c", "echo loaded image runs"],
                env=["PATH=/bin:/usr/bin", "FROM_IMAGE=yes"])
    res = cli("image", "load", "-i", archive, project=False)
    assert res.stdout.strip() == "Loaded image: saved/app:3"
    assert cli("container", "run", "--rm", "saved/app:3", project=False).stdout == "loaded image runs\n"
    missing = cli("image", "load", "-i", str(tmp_path / "nope.tar"), project=False, check=False)
    assert missing.returncode != 0 and "nope.tar" in missing.stderr


def test_entrypoint_command_user_workdir(cli, engine_root, rootfs_tar):
    cli("image", "import", "--change", 'ENTRYPOINT ["echo", "ep"]', "--change", 'CMD ["default-arg"]',
        "--change", "WORKDIR /srv/app", "--change", "USER nobody", rootfs_tar, "ep:1", project=False)
    run = lambda *a: cli("container", "run", "--rm", *a, project=False).stdout  # noqa: E731
    assert run("ep:1") == "ep default-arg\n"  # image entrypoint + image cmd
    assert run("ep:1", "given") == "ep given\n"  # a command replaces the image's cmd only
    # a new entrypoint drops the image's cmd, as Docker does
    assert run("--entrypoint", "sh", "ep:1", "-c", "id -u; pwd") == "65534\n/srv/app\n"
    assert run("--entrypoint", "id", "-u", "0:0", "ep:1") == "uid=0(root) gid=0(root) groups=0(root)\n"
    assert run("--entrypoint", "pwd", "-w", "/made/for/you", "ep:1") == "/made/for/you\n"


def test_two_roots_do_not_interfere(tmp_path, rootfs_tar):
    import subprocess
    import sys

    from tests.conftest import REPO, _force_clean
    from tests.support.host import leftovers

    roots = [str(tmp_path / "root-a"), str(tmp_path / "root-b")]
    env = {**__import__("os").environ, "PYTHONPATH": REPO}

    def composer(root, *args):
        return subprocess.run([sys.executable, "-m", "composer", "--root", root, *args], capture_output=True,
                              text=True, env=env, check=True).stdout

    try:
        infos = []
        for root in roots:
            composer(root, "image", "import", rootfs_tar, "base")
            composer(root, "network", "create", "same-name")
            infos.append(json.loads(composer(root, "network", "inspect", "same-name"))[0])
        assert infos[0]["bridge"] != infos[1]["bridge"]
        assert infos[0]["subnet"] != infos[1]["subnet"]
        out = [composer(root, "container", "run", "--rm", "--network", "same-name", "base", "hostname", "-i")
               for root in roots]
        assert out[0].strip().startswith(infos[0]["subnet"].rsplit(".", 1)[0])
        assert out[1].strip().startswith(infos[1]["subnet"].rsplit(".", 1)[0])
        composer(roots[0], "network", "rm", "same-name")
        # the other root's network is untouched
        assert json.loads(composer(roots[1], "network", "inspect", "same-name"))[0]["bridge"] == infos[1]["bridge"]
        composer(roots[1], "network", "rm", "same-name")
    finally:
        for root in roots:
            _force_clean(root)
    for root in roots:
        assert leftovers(root) == []


def test_killed_monitor_is_cleaned_up_by_down(cli, base_image):
    import os
    import signal
    import time

    cli.write("compose.yaml", """
services:
  app:
    image: composer/busybox
    command: ["sleep", "600"]
    ports: ["127.0.0.1:0:80"]
""")
    cli("up", "-d")
    info = json.loads(cli("container", "inspect", f"{cli.project}-app-1", project=False).stdout)[0]
    state = json.loads(open(os.path.join(cli.root, "containers", info["id"], "state.json")).read())
    os.kill(state["monitor_pid"], signal.SIGKILL)
    time.sleep(0.1)
    assert json.loads(cli("ps", "-a", "--format", "json").stdout)["State"] == "exited"
    cli("down")
    # the container's process (still running after its monitor died) was ended by down
    assert not os.path.exists(f"/proc/{state['pid']}") or open(f"/proc/{state['pid']}/cmdline").read() == ""


def test_image_in_use_is_not_removed_even_with_force(cli, base_image):
    cli("container", "run", "--name", "keeper", base_image, "true", project=False)
    for args in (("image", "rm", base_image), ("image", "rm", "-f", base_image)):
        res = cli(*args, project=False, check=False)
        assert res.returncode != 0 and "keeper" in res.stderr
    cli("image", "tag", base_image, "second:tag", project=False)
    assert cli("image", "rm", "second:tag", project=False).stdout.strip() == "Untagged: second:tag"
    cli("container", "rm", "keeper", project=False)
    assert "Deleted:" in cli("image", "rm", base_image, project=False).stdout
