"""Volumes of a stack: subpath, anonymous volumes across a recreate, binds (create_host_path,
read_only, propagation), tmpfs, volumes_from and external volumes, checked from inside the containers."""
from __future__ import annotations

import os
import subprocess
import time

import pytest

LOOP = """["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]"""


def service(name: str, extra: str = "") -> str:
    return f"""
  {name}:
    image: composer/busybox
    command: {LOOP}
    stop_grace_period: 1s
{extra}"""


@pytest.fixture
def stack(cli, base_image):
    yield cli
    cli("down", "-v", check=False)


def sh(cli, svc: str, script: str, check: bool = True):
    return cli("exec", "-T", svc, "sh", "-c", script, check=check)


def volumes(cli) -> list[str]:
    return cli("volume", "ls", "-q", project=False).stdout.split()


def test_subpath_mounts_a_directory_of_the_volume_and_cannot_escape(stack):
    cli = stack
    cli("volume", "create", f"{cli.project}_data", project=False)
    cli("container", "run", "--rm", "-v", f"{cli.project}_data:/d", "composer/busybox", "sh", "-c",
        "mkdir /d/sub && echo in-sub > /d/sub/f && ln -s /etc /d/abs && ln -s ../../.. /d/up", project=False)
    cli.write("compose.yaml", "services:" + service("app", """    volumes:
      - type: volume
        source: data
        target: /mnt
        volume: {subpath: sub}
""") + "volumes:\n  data: {}\n")
    cli("up", "-d")
    assert sh(cli, "app", "cat /mnt/f; ls /mnt").stdout == "in-sub\nf\n"
    cli("down")
    for sub in ("abs", "up", "../x", "missing"):
        cli.write("compose.yaml", "services:" + service("app", f"""    volumes:
      - type: volume
        source: data
        target: /mnt
        volume: {{subpath: "{sub}"}}
""") + "volumes:\n  data: {}\n")
        res = cli("up", "-d", check=False)
        assert res.returncode != 0, sub
        errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "subpath" in errors[0], res.stderr
        assert cli("ps", "-a", "-q").stdout.strip() == ""


def test_anonymous_volume_kept_across_recreate_and_gone_with_down_v(stack):
    cli = stack
    cli.write("compose.yaml", "services:" + service("app", "    volumes: [/cache]\n    environment: {V: '1'}\n"))
    cli("up", "-d")
    sh(cli, "app", "echo kept > /cache/f")
    (anon,) = volumes(cli)
    cli.write("compose.yaml", "services:" + service("app", "    volumes: [/cache]\n    environment: {V: '2'}\n"))
    cli("up", "-d")
    assert sh(cli, "app", "echo $V; cat /cache/f").stdout == "2\nkept\n"
    assert volumes(cli) == [anon]
    cli("down")
    assert volumes(cli) == [anon]  # plain down keeps volumes
    cli("up", "-d")
    cli("down", "-v")
    assert volumes(cli) == []


def test_bind_create_host_path_and_read_only(stack, tmp_path):
    cli = stack
    made = tmp_path / "made" / "here"
    absent = tmp_path / "absent"
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "f").write_text("host\n")
    cli.write("compose.yaml", "services:" + service("app", f"""    volumes:
      - type: bind
        source: {made}
        target: /made
        bind: {{create_host_path: true}}
      - {ro}:/ro:ro
      - type: volume
        source: data
        target: /data
        read_only: true
""") + "volumes:\n  data: {}\n")
    cli("up", "-d")
    sh(cli, "app", "echo from-container > /made/f")
    assert (made / "f").read_text() == "from-container\n"
    for path in ("/ro/f", "/data/f"):
        res = sh(cli, "app", f"echo x > {path}", check=False)
        assert res.returncode != 0 and "Read-only file system" in res.stderr
    assert (ro / "f").read_text() == "host\n"
    cli("down", "-v")

    cli.write("compose.yaml", "services:" + service("app", f"""    volumes:
      - type: bind
        source: {absent}
        target: /absent
""") + "volumes:\n  data: {}\n")
    res = cli("up", "-d", check=False)
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert res.returncode != 0 and len(errors) == 1 and str(absent) in errors[0]
    assert not absent.exists()
    assert cli("ps", "-a", "-q").stdout.strip() == ""


def _mountinfo_line(cli, target: str) -> str:
    out = sh(cli, "app", "cat /proc/self/mountinfo").stdout
    (line,) = [ln for ln in out.splitlines() if ln.split()[4] == target]
    return line


def test_bind_propagation(stack, tmp_path):
    cli = stack
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    plain = tmp_path / "plain"
    plain.mkdir()
    subprocess.run(["mount", "--bind", str(src), str(src)], check=True)
    try:
        subprocess.run(["mount", "--make-shared", str(src)], check=True)
        cli.write("compose.yaml", "services:" + service("app", f"""    volumes:
      - type: bind
        source: {src}
        target: /slave
        bind: {{propagation: rslave}}
      - type: bind
        source: {src}
        target: /shared
        bind: {{propagation: shared}}
      - {plain}:/plain
"""))
        cli("up", "-d")
        optional = lambda line: line.split(" - ")[0].split()[6:]  # noqa: E731
        assert [f for f in optional(_mountinfo_line(cli, "/slave")) if f.startswith("master:")]
        assert [f for f in optional(_mountinfo_line(cli, "/shared")) if f.startswith("shared:")]
        assert optional(_mountinfo_line(cli, "/plain")) == []  # rprivate by default
        # a mount the host makes under the source afterwards reaches the container through rslave
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "hostmade", str(src / "sub")], check=True)
        try:
            deadline = time.monotonic() + 10
            while "hostmade" not in sh(cli, "app", "cat /proc/mounts").stdout:
                assert time.monotonic() < deadline, "the host's mount never reached the container"
                time.sleep(0.1)
            assert sh(cli, "app", "grep ' /slave/sub ' /proc/mounts").stdout.startswith("hostmade")
            assert "hostmade" not in sh(cli, "app", "grep ' /plain' /proc/mounts || true").stdout
        finally:
            subprocess.run(["umount", str(src / "sub")], check=True)
        cli("down")
    finally:
        subprocess.run(["umount", "-l", str(src)], check=True)


def test_tmpfs_size_and_mode(stack):
    cli = stack
    cli.write("compose.yaml", "services:" + service("app", """    tmpfs: ["/run/short:size=2m,mode=0750"]
    volumes:
      - type: tmpfs
        target: /long
        tmpfs: {size: 1048576, mode: 0700}
      - ram:/ram
""") + """volumes:
  ram:
    driver_opts: {type: tmpfs, device: tmpfs, o: "size=3m"}
""")
    cli("up", "-d")
    out = sh(cli, "app", "df -k /run/short /long /ram | tail -n 3; stat -c '%n %a' /run/short /long").stdout.splitlines()
    assert [line.split()[1] for line in out[:3]] == ["2048", "1024", "3072"]
    assert out[3:] == ["/run/short 750", "/long 700"]
    line = _mountinfo_line(cli, "/run/short")
    assert "tmpfs" in line and "size=2048k" in line and "mode=750" in line


def test_volumes_from_service_and_container(stack):
    cli = stack
    cli("container", "run", "--name", "outside", "-v", "/shared", "composer/busybox", "sh", "-c",
        "echo out > /shared/f", project=False)
    cli.write("compose.yaml", "services:"
              + service("a", "    volumes: [data:/data, /cache]\n")
              + service("b", "    volumes_from: ['a:ro', 'container:outside']\n")
              + "volumes:\n  data: {}\n")
    cli("up", "-d")
    sh(cli, "a", "echo shared > /data/f; echo anon > /cache/f")
    assert sh(cli, "b", "cat /data/f /cache/f /shared/f").stdout == "shared\nanon\nout\n"
    res = sh(cli, "b", "echo x > /data/g", check=False)
    assert res.returncode != 0 and "Read-only file system" in res.stderr
    sh(cli, "b", "echo from-b > /shared/g")  # container: without a mode keeps the volume's own (rw)
    cli("down", "-v")
    cli("container", "rm", "-v", "outside", project=False)
    assert cli("volume", "ls", "-q", project=False).stdout == ""


def test_external_volume_missing_is_one_error_and_nothing_is_made(stack):
    cli = stack
    cli.write("compose.yaml", "services:" + service("app", "    volumes: [ext:/ext, own:/own]\n")
              + "volumes:\n  ext: {external: true}\n  own: {}\n")
    res = cli("up", "-d", check=False)
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert res.returncode != 0 and len(errors) == 1 and "ext" in errors[0] and "external" in errors[0]
    assert volumes(cli) == []
    assert cli.project not in cli("network", "ls", project=False).stdout
    assert cli("ps", "-a", "-q").stdout.strip() == ""
    cli("volume", "create", "ext", project=False)
    cli("up", "-d")
    sh(cli, "app", "echo x > /ext/f")
    cli("down", "-v")
    assert volumes(cli) == ["ext"]  # an external volume is never removed by down -v
    cli("volume", "rm", "ext", project=False)


def test_run_rm_takes_its_anonymous_volumes_and_v_names_project_volumes(stack):
    cli = stack
    cli.write("compose.yaml", "services:" + service("app", "    volumes: [/cache, data:/data]\n") + "volumes:\n  data: {}\n")
    out = cli("run", "--rm", "-T", "-v", "data:/d", "-v", "/extra", "app", "sh", "-c",
              "echo x > /cache/f; echo kept > /d/f; ls /cache /extra").stdout
    assert out.split() == ["/cache:", "f", "/extra:"]
    assert volumes(cli) == [f"{cli.project}_data"]  # the service's and the -v anonymous volumes went
    assert cli("run", "--rm", "-T", "-v", "data:/d", "app", "cat", "/d/f").stdout == "kept\n"
