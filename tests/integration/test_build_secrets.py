"""Build secrets: `image build --secret`, a service's `build.secrets` and RUN --mount=type=secret.
The step sees the value; the image (its layers, config and history), the build cache and the
engine root keep nothing of it, and a missing required secret fails the build in one line."""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import tarfile
import uuid

from tests.conftest import BASE_IMAGE, REPO

STEPS = f"""FROM {BASE_IMAGE}
RUN --mount=type=secret,id=token sha256sum /run/secrets/token | cut -d' ' -f1 > /digest \\
 && stat -c '%a %u %g' /run/secrets/token > /stat && id -u > /uid \\
 && ! (echo x >> /run/secrets/token) 2>/dev/null
RUN --mount=type=secret,id=token,target=/etc/app.key,mode=0440,uid=1000,gid=1000 stat -c '%a %u %g' /etc/app.key > /stat2
RUN --mount=type=secret,id=token,env=TOKEN echo "${{#TOKEN}}" > /len && ! test -e /run/secrets/token
RUN --mount=type=secret,id=absent echo optional-left-out > /absent && ! test -e /run/secrets/absent
"""


def files_holding(top: str, needle: bytes) -> list[str]:
    found = []
    for dirpath, _, names in os.walk(top):
        for name in names:
            path = os.path.join(dirpath, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as f:
                    if needle in f.read():
                        found.append(path)
    return found


def layer_members(cli, ref: str) -> list[str]:
    """The paths of every layer of *ref*, from `image save`."""
    archive = os.path.join(cli.cwd, "saved.tar")
    cli("image", "save", "-o", archive, ref, project=False)
    names = []
    with tarfile.open(archive) as outer:
        for member in outer.getmembers():
            if not member.isfile():
                continue
            data = outer.extractfile(member).read()
            try:
                with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                    names += [m.name for m in layer.getmembers()]
            except tarfile.TarError:
                continue  # a config or manifest
    os.unlink(archive)
    return names


def test_secret_mounts_in_run_steps_leave_nothing_in_the_image(cli, engine_root, base_image):
    value = f"tok-{uuid.uuid4().hex}"
    cli.write("token.txt", value)
    cli.write("Dockerfile", STEPS)
    cli("image", "build", "--secret", "id=token,src=token.txt", "-t", "sec", ".", project=False)
    out = cli("container", "run", "--rm", "sec", "sh", "-c",
              "cat /digest /stat /uid /stat2 /len /absent; for p in /run/secrets /etc/app.key; do "
              "test -e $p && echo left: $p; done; true", project=False).stdout.splitlines()
    assert out == [hashlib.sha256(value.encode()).hexdigest(), "400 0 0", "0", "440 1000 1000",
                   str(len(value)), "optional-left-out"], out
    # not in any layer (not even as an empty mount point), not in the history, not in the engine root
    members = layer_members(cli, "sec")
    assert not [m for m in members if "secrets" in m or m.endswith("app.key")], members
    history = cli("image", "history", "--no-trunc", "sec", project=False).stdout
    assert value not in history and "sha256sum /run/secrets/token" in history
    assert value not in cli("image", "inspect", "sec", project=False).stdout
    assert files_holding(engine_root, value.encode()) == []

    # the value is not part of the cache key (as in Docker's builder): another value reuses every step
    cli.write("token.txt", value + "-changed")
    again = cli("image", "build", "--secret", "id=token,src=token.txt", "-t", "sec", ".", project=False)
    assert len(re.findall(r"^#\d+ CACHED$", again.stderr, re.M)) == 4, again.stderr

    # from the environment
    env_value = f"env-{uuid.uuid4().hex}"
    cli.write("Dockerfile", f"FROM {BASE_IMAGE}\nRUN --mount=type=secret,id=tok,env=T "
                            "--mount=type=secret,id=tok sh -c 'echo $T; cat /run/secrets/tok' | sha256sum > /seen\n")
    res = subprocess.run(cli._command(["image", "build", "--no-cache", "--secret", "id=tok,env=MY_TOKEN", "-t", "sec2",
                                        "."], project=False), cwd=cli.cwd, capture_output=True, text=True,
                         timeout=300, env={**os.environ, "PYTHONPATH": REPO, "MY_TOKEN": env_value})
    assert res.returncode == 0, res.stderr
    seen = cli("container", "run", "--rm", "sec2", "cat", "/seen", project=False).stdout.split()[0]
    assert seen == hashlib.sha256(f"{env_value}\n{env_value}".encode()).hexdigest()
    assert files_holding(engine_root, env_value.encode()) == []


def test_required_secret_missing_fails_in_one_line(cli, engine_root, base_image):
    cli.write("Dockerfile", f"FROM {BASE_IMAGE}\nRUN --mount=type=secret,id=db_pw,required=true cat /run/secrets/db_pw\n")
    res = cli("image", "build", "-t", "bad", ".", project=False, check=False)
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert res.returncode != 0 and len(errors) == 1, res.stderr
    assert "db_pw" in errors[0] and "required" in errors[0] and "Traceback" not in res.stderr
    assert cli("image", "inspect", "bad", project=False, check=False).returncode != 0
    assert cli("container", "ls", "-a", project=False).stdout.count("\n") <= 1  # the header only


def test_compose_build_secrets(cli, engine_root, base_image):
    file_value, env_value = f"f-{uuid.uuid4().hex}", f"e-{uuid.uuid4().hex}"
    cli.write("app/Dockerfile", f"""FROM {BASE_IMAGE}
RUN --mount=type=secret,id=npmrc --mount=type=secret,id=api,env=API \\
    sh -c 'cat /run/secrets/npmrc; echo; echo $API' | sha256sum | cut -d" " -f1 > /seen
CMD ["cat", "/seen"]
""")
    cli.write("npmrc.txt", file_value)
    cli.write(".env", f"API_TOKEN={env_value}\n")
    cli.write("compose.yaml", """
services:
  app:
    build:
      context: ./app
      secrets:
        - npmrc
        - source: api_key
          target: api
secrets:
  npmrc:
    file: ./npmrc.txt
  api_key:
    environment: API_TOKEN
""")
    config = cli("config", "--format", "json").stdout
    assert file_value not in config and env_value not in config
    assert json.loads(config)["services"]["app"]["build"]["secrets"] == [{"source": "npmrc"},
                                                                        {"source": "api_key", "target": "api"}]
    cli("build")
    want = hashlib.sha256(f"{file_value}\n{env_value}\n".encode()).hexdigest()
    assert cli("run", "--rm", "app").stdout.strip() == want
    assert files_holding(engine_root, file_value.encode()) == []
    assert files_holding(engine_root, env_value.encode()) == []
    cli("down", check=False)

    cli.write("compose.yaml", """
services:
  app:
    build:
      context: ./app
      secrets: [tls]
secrets:
  tls:
    external: true
""")
    res = cli("build", check=False)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode != 0 and len(lines) == 1 and "external" in lines[0] and "Swarm" in lines[0], res.stderr
