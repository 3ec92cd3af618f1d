"""The blob store, chain ids, and image configs made from `--change` lines."""
from __future__ import annotations

import hashlib
import io
import json
import os

import pytest

from engine.errors import InvalidArgument
from engine.images.config import apply_changes, host_architecture, new_config
from engine.paths import Paths
from engine.snapshots.store import chain_ids
from engine.store.blobs import BlobStore


@pytest.fixture
def blobs(tmp_path):
    return BlobStore(Paths.open(str(tmp_path / "root")))


def test_blobs_are_content_addressed_and_idempotent(blobs, tmp_path):
    data = b"hello blob"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert blobs.put_stream(io.BytesIO(data)) == digest
    assert blobs.put_bytes(data) == digest
    src = tmp_path / "f"
    src.write_bytes(data)
    assert blobs.put_file(str(src)) == digest
    assert blobs.has(digest) and blobs.read(digest) == data and blobs.size(digest) == len(data)
    assert blobs.path(digest) == os.path.join(blobs.dir, digest[7:])
    assert blobs.list() == [digest]
    with pytest.raises(InvalidArgument, match="does not match"):
        blobs.put_bytes(b"other", expect=digest)
    assert blobs.list() == [digest] and os.listdir(blobs.dir) == [digest[7:]]  # no temporaries left
    blobs.remove(digest)
    blobs.remove(digest)
    assert not blobs.has(digest)


@pytest.mark.parametrize("bad", ["sha256:" + "0" * 63, "sha512:" + "0" * 64, "sha256:" + "../" * 21 + "a",
                                 "sha256:" + "A" * 64, "nope"])
def test_bad_digests_are_refused(blobs, bad):
    with pytest.raises(InvalidArgument):
        blobs.path(bad)


def test_chain_ids():
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    ids = chain_ids([a, b])
    assert ids[0] == a
    assert ids[1] == "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()
    assert chain_ids([]) == []


def test_changes():
    c: dict = {}
    apply_changes(c, ["ENV A=1 B=\"two words\"", "ENV C three words", "ENV A=override",
                      "CMD [\"httpd\", \"-f\"]", "ENTRYPOINT /entry.sh --flag", "WORKDIR /srv",
                      "USER nobody:nogroup", "LABEL a=b \"c d\"=e", "LABEL legacy value here",
                      "EXPOSE 80 53/udp 9000-9002", "STOPSIGNAL SIGINT", "VOLUME /data /logs",
                      "cmd [not json"])
    assert c["Env"] == ["A=override", "B=two words", "C=three words"]
    assert c["Cmd"] == ["/bin/sh", "-c", "[not json"]
    assert c["Entrypoint"] == ["/bin/sh", "-c", "/entry.sh --flag"]
    assert c["WorkingDir"] == "/srv" and c["User"] == "nobody:nogroup"
    assert c["Labels"] == {"a": "b", "c d": "e", "legacy": "value here"}
    assert set(c["ExposedPorts"]) == {"80/tcp", "53/udp", "9000/tcp", "9001/tcp", "9002/tcp"}
    assert c["StopSignal"] == "SIGINT" and set(c["Volumes"]) == {"/data", "/logs"}


@pytest.mark.parametrize("bad", ["FROM scratch", "RUN true", "ENV", "ENV ONLYKEY", "EXPOSE http", "EXPOSE 70000",
                                 "LABEL a=\"unterminated", "CMD"])
def test_bad_changes(bad):
    with pytest.raises(InvalidArgument):
        apply_changes({}, [bad])


def test_new_config_is_docker_import_like():
    diff = "sha256:" + "c" * 64
    doc = json.loads(new_config([diff], []))
    assert doc["config"] == {}  # docker import sets no Env, Cmd... unless asked
    assert doc["os"] == "linux" and doc["architecture"] == host_architecture()
    assert doc["rootfs"] == {"type": "layers", "diff_ids": [diff]}
    assert doc["created"] and doc["history"][0]["created"] == doc["created"]
