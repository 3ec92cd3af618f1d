"""The Dockerfile builder through the CLI: what a user checks by running and inspecting the result."""
from __future__ import annotations

import io
import os
import re
import tarfile

from engine.api import Engine
from tests.conftest import BASE_IMAGE

EVERYTHING = r"""# escape=\
ARG BASE=composer/busybox
FROM ${BASE} AS build
ARG GREETING=hello
ENV WHO=world \
    MESSAGE="${GREETING} there"
WORKDIR /src
COPY *.txt ./
RUN echo "$MESSAGE $WHO" > out.txt \
 && rm /etc/group && mkdir -p /made/by/run
RUN ["/bin/sh", "-c", "echo exec-form > /src/exec.txt"]
RUN <<EOF
echo "from a heredoc" > /src/heredoc.txt
EOF

FROM scratch AS files
COPY --from=build /src/out.txt /only.txt

FROM ${BASE}
LABEL org.example.name="demo app" stage=final
COPY --from=build /src/ /app/
COPY --from=files /only.txt /app/from-scratch.txt
COPY --chown=nobody:nogroup --chmod=640 data.txt /owned/
ADD bundle.tar /opt/
COPY <<EOF /etc/motd
motd for $WHO_UNSET
EOF
RUN rm /etc/hostname.bak && echo trig-ok > /tmp/marker
USER nobody
WORKDIR /work/dir
EXPOSE 8080 53/udp
VOLUME ["/data"]
HEALTHCHECK --interval=5s --retries=2 CMD ["true"]
STOPSIGNAL SIGINT
ONBUILD RUN echo triggered > /tmp/onbuild
SHELL ["/bin/sh", "-c"]
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["id -un; pwd; cat /app/out.txt /app/exec.txt /app/heredoc.txt /app/from-scratch.txt"]
"""


def _context(cli, dockerfile: str = EVERYTHING) -> str:
    cli.write("Dockerfile", dockerfile)
    cli.write("a.txt", "A\n")
    cli.write("data.txt", "secret data\n")
    cli.write("notes.md", "not copied by *.txt\n")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        info = tarfile.TarInfo("pkg/file.txt")
        payload = b"from the archive\n"
        info.size = len(payload)
        t.addfile(info, io.BytesIO(payload))
    with open(os.path.join(cli.cwd, "bundle.tar"), "wb") as f:
        f.write(buf.getvalue())
    return cli.cwd


def _base_with_backup(engine_root: str) -> None:
    """The base image plus /etc/hostname.bak, so the final stage has a file to delete."""
    eng = Engine(engine_root)
    ctx = os.path.join(engine_root, "basectx")
    os.makedirs(ctx)
    eng.build_image(ctx, dockerfile_inline=f"FROM {BASE_IMAGE}\nRUN cp /etc/passwd /etc/hostname.bak\n",
                    tags=[BASE_IMAGE])


def test_multistage_build_with_every_instruction(cli, engine_root, base_image):
    _base_with_backup(engine_root)
    _context(cli)
    res = cli("image", "build", "-t", "demo:1", "-t", "demo:latest", ".", project=False)
    # streamed with step numbers and stages
    assert re.search(r"^#\d+ \[build 1/\d+\] FROM composer/busybox$", res.stderr, re.M), res.stderr
    assert re.search(r"^#\d+ \[stage-2 \d+/\d+\] COPY --from=build /src/ /app/$", res.stderr, re.M)
    assert "naming to demo:1" in res.stderr

    run = cli("container", "run", "--rm", "demo:1", project=False)
    assert run.stdout.splitlines() == ["nobody", "/work/dir", "hello there world", "exec-form", "from a heredoc",
                                       "hello there world"]
    files = cli("container", "run", "--rm", "--entrypoint", "", "demo:1", "sh", "-c",
                "cat /opt/pkg/file.txt /etc/motd; stat -c '%U:%G %a' /owned/data.txt; cat /owned/data.txt 2>&1;"
                " ls /app; test -e /etc/hostname.bak && echo still-there; cat /tmp/marker;"
                " grep -c nogroup /etc/group", project=False)
    lines = files.stdout.splitlines()
    assert lines[0] == "from the archive"
    assert lines[1] == "motd for "
    assert lines[2] == "nobody:nogroup 640"
    assert "Permission denied" not in lines[3]  # nobody owns it
    assert lines[4].split() == ["a.txt", "data.txt", "exec.txt", "heredoc.txt", "out.txt"] or "a.txt" in lines[4]
    assert "still-there" not in files.stdout and "trig-ok" in files.stdout
    assert lines[-1] == "1"  # /etc/group of the final stage: the build stage's deletion stayed there

    img = Engine(engine_root).inspect_image("demo:1")
    cfg = img.config
    assert cfg["User"] == "nobody" and cfg["WorkingDir"] == "/work/dir"
    assert cfg["Entrypoint"] == ["/bin/sh", "-c"]
    assert cfg["Labels"] == {"org.example.name": "demo app", "stage": "final"}
    assert set(cfg["ExposedPorts"]) == {"8080/tcp", "53/udp"} and set(cfg["Volumes"]) == {"/data"}
    assert cfg["Healthcheck"] == {"Test": ["CMD", "true"], "Interval": 5_000_000_000, "Retries": 2}
    assert cfg["StopSignal"] == "SIGINT" and cfg["OnBuild"] == ["RUN echo triggered > /tmp/onbuild"]
    assert cfg["Shell"] == ["/bin/sh", "-c"]
    assert not any(e.startswith(("GREETING=", "MESSAGE=")) for e in cfg["Env"])  # build stage only
    assert sorted(img.repo_tags) == ["demo:1", "demo:latest"]

    # the ONBUILD trigger runs in a child build
    child = cli.write("child/Dockerfile", "FROM demo:1\nUSER root\n")
    cli("image", "build", "-t", "child", os.path.dirname(child), project=False)
    out = cli("container", "run", "--rm", "--entrypoint", "cat", "child", "/tmp/onbuild", project=False)
    assert out.stdout == "triggered\n"
    assert "OnBuild" not in Engine(engine_root).inspect_image("child").config


def test_run_deletion_becomes_an_oci_whiteout(cli, engine_root, base_image):
    cli.write("Dockerfile", f"FROM {BASE_IMAGE}\nRUN rm -r /etc/group /var/www && mkdir /new\n")
    cli("image", "build", "-t", "gone", ".", project=False)
    eng = Engine(engine_root)
    top = eng.inspect_image("gone").layers[-1]
    with tarfile.open(eng.images.blobs.path(top)) as t:
        names = sorted(t.getnames())
    assert names == ["etc", "etc/.wh.group", "new", "var", "var/.wh.www"]  # no runtime mount points
    out = cli("container", "run", "--rm", "gone", "sh", "-c", "ls /etc /var", project=False).stdout
    assert "group" not in out and "www" not in out and "passwd" in out


def test_dockerignore(cli, engine_root, base_image):
    cli.write("Dockerfile", f"FROM {BASE_IMAGE}\nCOPY . /ctx/\n")
    cli.write(".dockerignore", "# comment\n*.log\n!keep.log\nsecret/\n**/cache\nDockerfile\n")
    for name in ("app.py", "debug.log", "keep.log", "secret/key", "deep/er/cache/blob", "deep/er/ok.txt"):
        cli.write(name, name)
    cli("image", "build", "-t", "ctx", ".", project=False)
    out = cli("container", "run", "--rm", "ctx", "find", "/ctx", "-type", "f", project=False).stdout
    assert sorted(out.split()) == ["/ctx/.dockerignore", "/ctx/app.py", "/ctx/deep/er/ok.txt", "/ctx/keep.log"]
    missing = cli.write("Dockerfile", f"FROM {BASE_IMAGE}\nCOPY debug.log /\n")
    res = cli("image", "build", os.path.dirname(missing), project=False, check=False)
    assert res.returncode != 0 and "debug.log" in res.stderr and ".dockerignore" in res.stderr


CACHED = f"""FROM {BASE_IMAGE}
ARG V=1
ENV V=$V
COPY a.txt /a.txt
RUN cat /a.txt > /b.txt && echo ran-$V
COPY b.txt /b2.txt
CMD ["cat", "/b.txt"]
"""


def test_cached_rebuild_reuses_every_layer_and_a_changed_file_invalidates(cli, engine_root, base_image):
    cli.write("Dockerfile", CACHED)
    cli.write("a.txt", "one\n")
    cli.write("b.txt", "b\n")
    first = cli("image", "build", "-t", "c", ".", project=False)
    assert "\n#5 ran-1\n" in first.stderr
    eng = Engine(engine_root)
    img1 = eng.inspect_image("c")
    blobs = set(os.listdir(eng.images.blobs.dir))

    again = cli("image", "build", "-t", "c", ".", project=False)
    img2 = eng.inspect_image("c")
    assert img2.layers == img1.layers and img2.id == img1.id
    assert not re.search(r"^#\d+ ran-", again.stderr, re.M)
    assert len(re.findall(r"^#\d+ CACHED$", again.stderr, re.M)) == 5  # ENV, COPY, RUN, COPY, CMD
    assert set(os.listdir(eng.images.blobs.dir)) == blobs  # nothing new stored

    cli.write("a.txt", "two\n")
    changed = cli("image", "build", "-t", "c", ".", project=False)
    img3 = eng.inspect_image("c")
    assert "\n#5 ran-1\n" in changed.stderr
    assert img3.layers[:1] == img1.layers[:1] and img3.layers[1] != img1.layers[1]
    assert len(img3.layers) == len(img1.layers)
    assert cli("container", "run", "--rm", "c", project=False).stdout == "two\n"

    # a build arg the RUN sees changes its key; --no-cache runs everything again
    arg = cli("image", "build", "--build-arg", "V=2", "-t", "c2", ".", project=False)
    assert "\n#5 ran-2\n" in arg.stderr
    fresh = cli("image", "build", "--no-cache", "-t", "c3", ".", project=False)
    assert "\n#5 ran-1\n" in fresh.stderr and "CACHED" not in fresh.stderr

    # the cache's layers survive the collector that runs when an image is removed
    cli("image", "rm", "c2", project=False)
    again = cli("image", "build", "-t", "c", ".", project=False)
    assert not re.search(r"^#\d+ ran-", again.stderr, re.M)


def _no_leftovers(cli, engine_root):
    assert cli("container", "ls", "-a", project=False).stdout.count("\n") <= 1
    eng = Engine(engine_root)
    assert not [n for n in os.listdir(eng.paths.containers)] if os.path.isdir(eng.paths.containers) else True
    assert not [n for n in os.listdir(eng.images.blobs.dir) if n.startswith(".tmp-")]


def test_build_errors_are_one_line_and_leave_nothing(cli, engine_root, base_image):
    cases = [
        (f"FROM {BASE_IMAGE}\nRUN true\nFOOBAR x\n", "Dockerfile:3: unknown instruction: FOOBAR"),
        (f"FROM {BASE_IMAGE}\n\nCOPY missing.txt /\n", "Dockerfile:3: COPY: missing.txt: no such file"),
        (f"FROM {BASE_IMAGE}\nRUN echo partial > /p && exit 3\n", "exit code: 3"),
        (f"FROM {BASE_IMAGE}\nRUN no-such-program\n", "Dockerfile:2: RUN:"),
        ("RUN true\n", "Dockerfile:1: RUN before the first FROM"),
        ("FROM 127.0.0.1:9/nothing/here\n", "FROM 127.0.0.1:9/nothing/here: the image is not in the engine and "
                                             "pulling it failed (cannot reach 127.0.0.1:9"),
        (f"FROM {BASE_IMAGE}\nCOPY ../outside /\n", "outside the build context"),
        (f"FROM {BASE_IMAGE}\nENV A=\"unterminated\n", "Dockerfile:2: ENV: unterminated"),
    ]
    for text, expected in cases:
        cli.write("Dockerfile", text)
        res = cli("image", "build", "-t", "bad", ".", project=False, check=False)
        assert res.returncode != 0, text
        errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1 and expected in errors[0], (text, res.stderr)
        assert "Traceback" not in res.stderr
        _no_leftovers(cli, engine_root)
    assert cli("image", "inspect", "bad", project=False, check=False).returncode != 0


def test_target_and_build_args(cli, engine_root, base_image):
    cli.write("Dockerfile", f"""ARG WHO=default
FROM {BASE_IMAGE} AS first
ARG WHO
RUN echo "first $WHO" > /who
FROM first AS second
RUN echo never > /second
FROM {BASE_IMAGE}
RUN exit 9
""")
    res = cli("image", "build", "--target", "first", "--build-arg", "WHO=me", "-t", "t", ".", project=False)
    assert "exit 9" not in res.stderr and "second" not in res.stderr  # only the stages the target needs
    assert cli("container", "run", "--rm", "t", "cat", "/who", project=False).stdout == "first me\n"
    res = cli("image", "build", "--target", "nope", ".", project=False, check=False)
    assert res.returncode != 0 and "target stage 'nope' could not be found" in res.stderr


def test_compose_build_and_up(cli, engine_root, base_image):
    cli.write("app/Dockerfile", f"""FROM {BASE_IMAGE} AS base
ARG FLAVOR
RUN echo "flavor=$FLAVOR" > /flavor
FROM base AS dev
CMD ["sh", "-c", "cat /flavor; sleep 60"]
FROM base AS prod
CMD ["cat", "/flavor"]
""")
    cli.write("compose.yaml", """services:
  web:
    build:
      context: ./app
      target: dev
      args: {FLAVOR: sweet}
      labels: {made.by: compose}
      tags: [extra/web:1]
  named:
    image: my/named:2
    build:
      context: .
      dockerfile_inline: |
        FROM composer/busybox
        CMD ["echo", "inline"]
""")
    cli("up", "-d")
    eng = Engine(engine_root)
    web = eng.inspect_image(f"{cli.project}-web")
    assert web.config["Labels"] == {"made.by": "compose"} and "extra/web:1" in web.repo_tags
    assert eng.inspect_image("my/named:2").config["Cmd"] == ["echo", "inline"]
    logs = ""
    for _ in range(100):
        logs = cli("logs", "web").stdout
        if "flavor=sweet" in logs:
            break
    assert "flavor=sweet" in logs
    # `build` rebuilds (from the cache: same image)
    res = cli("build", "web")
    assert "CACHED" in res.stderr and eng.inspect_image(f"{cli.project}-web").id == web.id
    cli("down", "-t", "0")
    bad = cli.write("compose.yaml", "services:\n  x:\n    build:\n      context: .\n      dockerfile_inline: |\n"
                                    "        FROM composer/busybox\n        RUN exit 4\n")
    res = cli("up", "-d", check=False)
    assert res.returncode != 0 and "exit code: 4" in res.stderr and os.path.exists(bad)
    assert "Traceback" not in res.stderr
    assert cli("ps", "-a", "-q").stdout.strip() == ""


def test_run_steps_reach_the_running_stack(cli, engine_root, base_image):
    cli.write("compose.yaml", f"""services:
  srv:
    image: {BASE_IMAGE}
    command: ["sh", "-c", "mkdir -p /w && echo served > /w/x && exec httpd -f -p 80 -h /w"]
  web:
    build:
      context: .
      dockerfile_inline: |
        FROM {BASE_IMAGE}
        RUN for i in $$(seq 100); do wget -q -O /got http://srv/x && break; sleep 0.1; done; cat /got
        CMD ["cat", "/got"]
""")
    cli("up", "-d", "srv")
    res = cli("build", "web")
    assert re.search(r"^#\d+ served$", res.stderr, re.M), res.stderr
    assert cli("container", "run", "--rm", f"{cli.project}-web", project=False).stdout == "served\n"
    cli("down", "-t", "0")


def test_a_killed_build_leaves_what_the_next_build_removes(cli, engine_root, base_image):
    import signal
    import subprocess
    import sys
    import time

    cli.write("Dockerfile", f"FROM {BASE_IMAGE}\nRUN sleep 60\n")
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.dirname(__file__)))}
    proc = subprocess.Popen([sys.executable, "-m", "composer", "--root", engine_root, "image", "build", "."],
                            cwd=cli.cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    eng = Engine(engine_root)
    try:
        for _ in range(600):
            if any(c.status == "running" for c in eng.list_containers()):
                break
            time.sleep(0.05)
        assert [c.name[:6] for c in eng.list_containers()] == ["build-"]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    cli.write("Dockerfile", f"FROM {BASE_IMAGE}\nRUN true\n")
    cli("image", "build", "-t", "after", ".", project=False)
    assert eng.list_containers() == []


def test_builder_prune_frees_the_cache(cli, engine_root, base_image):
    cli.write("Dockerfile", f"FROM {BASE_IMAGE}\nRUN echo one > /one\nRUN echo two > /two\n")
    cli("image", "build", "-t", "p", ".", project=False)
    cli("image", "rm", "p", project=False)
    eng = Engine(engine_root)
    base_layers = set(eng.inspect_image(BASE_IMAGE).layers)
    assert {"sha256:" + n for n in os.listdir(eng.images.blobs.dir)} - base_layers  # the cache keeps them
    df = cli("system", "df", project=False).stdout
    assert re.search(r"^Build Cache\s+2\s+0\s", df, re.M), df
    out = cli("builder", "prune", "-f", project=False).stdout
    assert "Deleted build cache entries: 2" in out
    left = {"sha256:" + n for n in os.listdir(eng.images.blobs.dir)}
    assert left == base_layers | {eng.inspect_image(BASE_IMAGE).id}
    again = cli("image", "build", "-t", "p", ".", project=False)
    assert "CACHED" not in again.stderr


def test_an_image_of_many_layers_runs(cli, engine_root, base_image):
    # past ~40 layers the overlayfs lowerdir option no longer fits in a page with full paths
    steps = "".join(f"COPY <<EOF /f{i}\n{i}\nEOF\n" for i in range(70))
    cli.write("Dockerfile", f"FROM {BASE_IMAGE}\n{steps}RUN cat /f0 /f69 > /both\n")
    cli("image", "build", "-t", "deep", ".", project=False)
    assert len(Engine(engine_root).inspect_image("deep").layers) == 72
    out = cli("container", "run", "--rm", "deep", "cat", "/both", project=False).stdout
    assert out == "0\n69\n"


def test_from_an_image_not_here_pulls_it(cli, engine_root, base_image, tmp_path):
    import pytest

    from tests.support import registry as registry_support

    if not registry_support.available():
        pytest.skip("docker-registry is not installed (apt-get install docker-registry)")
    reg = registry_support.Registry(str(tmp_path / "registry"))
    try:
        eng = Engine(engine_root)
        ref = f"{reg.host}/build/base:1"
        eng.tag_image(BASE_IMAGE, ref)
        eng.push_image(ref)
        eng.remove_image(ref)
        cli.write("Dockerfile", f"FROM {ref}\nRUN echo pulled > /p\n")
        res = cli("image", "build", "-t", "frompull", ".", project=False)
        assert f"pulling {ref}" in res.stderr
        assert ref in eng.inspect_image(ref).repo_tags
        assert cli("container", "run", "--rm", "frompull", "cat", "/p", project=False).stdout == "pulled\n"
    finally:
        reg.stop()


def test_add_from_a_url_downloads_the_file(cli, engine_root, base_image):
    import http.server
    import threading

    class Files(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the handler's API
            if self.path == "/dl/hello.txt":
                body = b"hello over http\n"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_error(404)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        cli.write("Dockerfile", f"""FROM {BASE_IMAGE}
ADD {base}/dl/hello.txt /into/
ADD --chmod=644 {base}/dl/hello.txt /renamed.txt
""")
        cli("image", "build", "-t", "fromurl", ".", project=False)
        out = cli("container", "run", "--rm", "fromurl", "sh", "-c",
                  "cat /into/hello.txt; stat -c '%a %U' /into/hello.txt /renamed.txt", project=False).stdout
        assert out == "hello over http\n600 root\n644 root\n"
        cases = [(f"ADD {base}/dl/missing.txt /x\n", "the server answered 404"),
                 (f"COPY {base}/dl/hello.txt /x\n", "COPY cannot take a URL"),
                 ("ADD http://127.0.0.1:9/nothing /x\n", "cannot download it")]
        for line, expected in cases:
            cli.write("Dockerfile", f"FROM {BASE_IMAGE}\n{line}")
            res = cli("image", "build", "-t", "bad", ".", project=False, check=False)
            errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
            assert res.returncode != 0 and len(errors) == 1 and expected in errors[0], res.stderr
            _no_leftovers(cli, engine_root)
    finally:
        server.shutdown()
        server.server_close()


def test_run_mounts_cache_bind_and_tmpfs(cli, engine_root, base_image):
    cli.write("app/config.txt", "from the context\n")
    cli.write("app/ignored.txt", "not for the build\n")
    cli.write(".dockerignore", "app/ignored.txt\n")
    cli.write("Dockerfile", f"""FROM {BASE_IMAGE}
ARG N=1
RUN --mount=type=cache,target=/cache echo "run $N" >> /cache/log && wc -l < /cache/log > /seen
RUN --mount=type=bind,source=app,target=/src cat /src/config.txt > /copied && ls /src > /listed \\
 && ! touch /src/new 2>/dev/null
RUN --mount=type=bind,source=app,target=/src,rw --mount=type=tmpfs,target=/scratch \\
    touch /src/new /scratch/x && grep -q " /scratch tmpfs" /proc/mounts && echo ok > /rw
""")
    cli("image", "build", "-t", "mounts", ".", project=False)
    show = "cat /seen /copied /listed /rw; for d in /cache /src /scratch; do test -e $d && echo $d; done; true"
    out = cli("container", "run", "--rm", "mounts", "sh", "-c", show, project=False).stdout
    # ignored.txt is not bound; the mount points the image did not have are not left in it
    assert out.splitlines() == ["1", "from the context", "config.txt", "ok"], out
    assert not os.path.exists(os.path.join(cli.cwd, "app", "new"))  # rw writes went to a copy
    # a cache mount keeps its content between builds; a changed file under a bind mount runs its step again
    cli.write("app/config.txt", "changed\n")
    cli("image", "build", "--build-arg", "N=2", "-t", "mounts", ".", project=False)
    out = cli("container", "run", "--rm", "mounts", "cat", "/seen", "/copied", project=False).stdout
    assert out == "2\nchanged\n"
    res = cli("image", "build", "-t", "bad", "-f", "-", ".", project=False, check=False,
              input=f"FROM {BASE_IMAGE}\nRUN --mount=type=ssh true\n")
    assert res.returncode != 0 and "type=ssh is not supported" in res.stderr
    cli("builder", "prune", "-f", project=False)  # cache mounts go too: the next run starts a new log
    cli("image", "build", "--build-arg", "N=3", "-t", "mounts", ".", project=False)
    assert cli("container", "run", "--rm", "mounts", "cat", "/seen", project=False).stdout == "1\n"
