"""`image save` and `image load` through real pipes, as `docker save img | composer image load` and
`composer image save img | docker load` are used: stdin/stdout by default, /dev/stdin and FIFOs as
-i, and a one-line refusal where a terminal would get (or give) the archive."""
from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
import tempfile
import threading

import pytest

from tests.conftest import REPO, SESSION


@pytest.fixture
def other_root():
    root = tempfile.mkdtemp(prefix=f"composer-test-{SESSION}-")
    yield root
    shutil.rmtree(root, ignore_errors=True)


def composer(root: str, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "composer", "--root", root, *args],
                            env={**os.environ, "PYTHONPATH": REPO}, **kwargs)


def image_id(root: str, ref: str) -> str:
    res = subprocess.run([sys.executable, "-m", "composer", "--root", root, "image", "inspect", ref],
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": REPO}, check=True)
    return json.loads(res.stdout)[0]["id"]


def test_save_piped_into_load_of_another_engine(engine_root, base_image, other_root):
    save = composer(engine_root, "image", "save", base_image, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    load = composer(other_root, "image", "load", stdin=save.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    save.stdout.close()  # the pipe is theirs now
    out, err = load.communicate(timeout=120)
    assert save.wait(timeout=60) == 0, save.stderr.read()
    assert load.returncode == 0, err
    assert out.decode() == f"Loaded image: {base_image}\n"
    assert image_id(other_root, base_image) == image_id(engine_root, base_image)


def _archive(root: str, ref: str, path: str) -> None:
    with open(path, "wb") as f:
        assert composer(root, "image", "save", ref, stdout=f).wait(timeout=120) == 0


def test_load_from_dev_stdin_and_a_fifo(engine_root, base_image, other_root, tmp_path):
    archive = str(tmp_path / "img.tar")
    _archive(engine_root, base_image, archive)
    # -i /dev/stdin on a pipe (an illegal seek before)
    cat = subprocess.Popen(["cat", archive], stdout=subprocess.PIPE)
    load = composer(other_root, "image", "load", "-i", "/dev/stdin", stdin=cat.stdout, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE)
    cat.stdout.close()
    out, err = load.communicate(timeout=120)
    assert load.returncode == 0, err
    assert f"Loaded image: {base_image}" in out.decode()
    # -i FIFO, written by another process meanwhile
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)

    def write_fifo():
        with open(archive, "rb") as src, open(fifo, "wb") as dst:
            shutil.copyfileobj(src, dst)

    writer = threading.Thread(target=write_fifo, daemon=True)
    writer.start()
    load = composer(other_root, "image", "load", "-q", "-i", fifo, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = load.communicate(timeout=120)
    writer.join(timeout=60)
    assert load.returncode == 0, err
    assert image_id(other_root, base_image) == image_id(engine_root, base_image)
    assert not [n for n in os.listdir(other_root) if n.startswith(".tmp")]


def _on_terminal(root: str, *args: str) -> tuple[int, str, bytes]:
    """The command with a terminal as stdin and stdout; stderr to a pipe."""
    master, slave = pty.openpty()
    try:
        proc = composer(root, *args, stdin=slave, stdout=slave, stderr=subprocess.PIPE)
        os.close(slave)
        _, err = proc.communicate(timeout=120)
        seen = b""
        try:
            while True:
                if not select.select([master], [], [], 0.2)[0]:
                    break
                chunk = os.read(master, 65536)
                if not chunk:
                    break
                seen += chunk
        except OSError:
            pass
        return proc.returncode, err.decode(), seen
    finally:
        os.close(master)


def test_save_to_a_terminal_and_load_from_one_are_refused(engine_root, base_image):
    code, err, seen = _on_terminal(engine_root, "image", "save", base_image)
    assert code != 0 and seen == b""  # no archive sprayed on the terminal
    assert len(err.strip().splitlines()) == 1 and "terminal" in err and "Traceback" not in err, err
    code, err, seen = _on_terminal(engine_root, "image", "load")
    assert code != 0
    assert len(err.strip().splitlines()) == 1 and "terminal" in err and "Traceback" not in err, err
