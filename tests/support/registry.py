"""A real registry for tests: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1.

`start_registry(dir)` writes a config (a free loopback port, filesystem storage in *dir*, no auth,
deletes allowed), starts the registry and waits until `/v2/` answers. `stop()` ends it.
"""
from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import time

import pytest

BINARY = "/usr/bin/docker-registry"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    def __init__(self, workdir: str):
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.storage = os.path.join(workdir, "storage")
        os.makedirs(self.storage)
        config = os.path.join(workdir, "config.yml")
        with open(config, "w") as f:
            f.write(f"""version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {self.storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{self.port}
""")
        self.log = open(os.path.join(workdir, "registry.log"), "wb")
        self.proc = subprocess.Popen([BINARY, "serve", config], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/v2/")
                if conn.getresponse().status == 200:
                    conn.close()
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"docker-registry did not start (see {self.log.name})")
            time.sleep(0.05)

    def blob_path(self, digest: str) -> str:
        hexd = digest.split(":", 1)[1]
        return os.path.join(self.storage, "docker/registry/v2/blobs/sha256", hexd[:2], hexd, "data")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def available() -> bool:
    return os.access(BINARY, os.X_OK) and shutil.which("docker-registry") is not None


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A running docker-registry for the test module (import this fixture into the module)."""
    if not available():
        pytest.skip("docker-registry is not installed (apt-get install docker-registry)")
    reg = Registry(str(tmp_path_factory.mktemp("registry")))
    yield reg
    reg.stop()
