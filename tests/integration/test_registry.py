"""Pull and push against a real registry (Debian's docker-registry on 127.0.0.1), auth, faults, archives."""
from __future__ import annotations

import json
import os
import tarfile
import uuid

import pytest

from tests.support.registry import registry  # noqa: F401 - the fixture
from tests.support.token_registry import AuthProxy


@pytest.fixture
def proxy(registry):
    p = AuthProxy(registry.host)
    yield p
    p.stop()


@pytest.fixture
def docker_config(tmp_path, monkeypatch):
    d = tmp_path / "docker-config"
    d.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(d))
    return d


def _repo() -> str:
    return "test/" + uuid.uuid4().hex[:10]


def _inspect(cli, ref: str) -> dict:
    return json.loads(cli("image", "inspect", ref).stdout)[0]


def _api(cli):
    from engine.api import Engine

    return Engine(cli.root)


def _tag(cli, src: str, dst: str) -> None:
    _api(cli).tag_image(src, dst)


def _rm(cli, *refs: str) -> None:
    for ref in refs:
        _api(cli).remove_image(ref, force=True)


def _blobs(root: str) -> list[str]:
    d = os.path.join(root, "blobs", "sha256")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def test_push_then_pull_round_trip(cli, base_image, registry, engine_root, docker_config):
    name = f"{registry.host}/{_repo()}:1"
    _tag(cli, base_image, name)
    original = _inspect(cli, name)
    out = cli("image", "push", name).stdout
    digest = out.strip().splitlines()[-1].split("digest: ")[1].split()[0]
    assert digest.startswith("sha256:")
    # the registry holds exactly the manifest we reported, and it names our config
    repo_dir = os.path.join(registry.storage, "docker/registry/v2/repositories", name.split("/", 1)[1].rsplit(":")[0])
    assert os.path.isdir(os.path.join(repo_dir, "_manifests/revisions/sha256", digest[7:]))
    with open(registry.blob_path(digest), "rb") as f:
        manifest = json.load(f)
    assert manifest["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert manifest["config"]["digest"] == original["id"]
    assert manifest["layers"][0]["mediaType"] == "application/vnd.docker.image.rootfs.diff.tar.gzip"
    # pushing again uploads nothing and gives the same digest
    again = cli("image", "push", name).stdout
    assert "Layer already exists" in again and digest in again

    _rm(cli, name, base_image)
    assert cli("image", "ls", "-q").stdout.strip() == ""
    pulled = cli("image", "pull", name)
    assert pulled.stdout.strip().splitlines()[-1] == name
    info = _inspect(cli, name)
    assert info["id"] == original["id"] and info["layers"] == original["layers"]
    repo_digest = name.rsplit(":", 1)[0] + "@" + digest
    assert info["repo_digests"] == [repo_digest]
    assert _inspect(cli, repo_digest)["id"] == original["id"]
    res = cli("container", "run", "--rm", name, "sh", "-c", "echo pulled-ok")
    assert res.stdout.strip() == "pulled-ok"
    # a second pull finds it up to date and fetches no layer
    second = cli("image", "pull", name).stdout
    assert "Image is up to date" in second and "Pull complete" not in second


def test_pull_by_digest_and_missing_tag(cli, base_image, registry, docker_config):
    name = f"{registry.host}/{_repo()}"
    _tag(cli, base_image, name + ":a")
    digest = cli("image", "push", name + ":a").stdout.split("digest: ")[1].split()[0]
    _rm(cli, name + ":a", base_image)
    shown = cli("--progress", "tty", "image", "pull", f"{name}@{digest}").stdout
    assert "Downloading [" in shown and "\x1b[" in shown  # bars redrawn in place on a terminal
    listed = [json.loads(line) for line in cli("image", "ls", "--format", "json").stdout.splitlines()]
    assert [(i["Repository"], i["Tag"], i["Digest"]) for i in listed] == [(name, "<none>", digest)]
    events = [json.loads(line) for line in cli("--progress", "json", "image", "pull", f"{name}@{digest}")
              .stdout.splitlines()[:-1]]
    assert {"status": f"Digest: {digest}"} in events
    res = cli("image", "pull", name + ":nope", check=False)
    assert res.returncode != 0 and res.stderr.startswith("error: ") and "not found" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_chunked_upload(cli, base_image, registry, proxy, engine_root, docker_config, monkeypatch):
    monkeypatch.setenv("COMPOSER_PUSH_CHUNK_SIZE", "200000")
    _api(cli).login(proxy.host, proxy.user, proxy.password)
    name = f"{proxy.host}/{_repo()}:c"
    _tag(cli, base_image, name)
    image_id = _inspect(cli, name)["id"]
    cli("image", "push", name)
    patches = [r for r in proxy.requests if r[0] == "PATCH"]
    assert len(patches) >= 3 and all("Content-Range" in r[2] for r in patches)
    _rm(cli, name, base_image)
    cli("image", "pull", name)
    assert _inspect(cli, name)["id"] == image_id


def test_token_auth(cli, base_image, registry, proxy, docker_config):
    name = f"{proxy.host}/{_repo()}:t"
    _tag(cli, base_image, name)
    # anonymous tokens only allow pulls: a push is refused with one clear line
    res = cli("image", "push", name, check=False)
    assert res.returncode != 0 and "error: " in res.stderr and "login" in res.stderr
    bad = cli("login", proxy.host, "-u", proxy.user, "--password-stdin", input="wrong", check=False)
    assert bad.returncode != 0 and "error:" in bad.stderr
    assert not os.path.exists(docker_config / "config.json")
    ok = cli("login", proxy.host, "-u", proxy.user, "--password-stdin", input=proxy.password)
    assert "Login Succeeded" in ok.stdout
    auths = json.loads((docker_config / "config.json").read_text())["auths"]
    assert proxy.host in auths and auths[proxy.host]["auth"]
    cli("image", "push", name)
    assert any(r[1].startswith("/token") and "Authorization" in r[2] for r in proxy.requests)
    _rm(cli, name)
    cli("image", "pull", name)
    assert "Logged" not in cli("logout", proxy.host).stdout
    assert proxy.host not in json.loads((docker_config / "config.json").read_text())["auths"]
    # tokens are fetched per scope, not per request
    tokens = [r for r in proxy.requests if r[1].startswith("/token")]
    assert len(tokens) <= 6


def test_basic_auth(cli, base_image, registry, docker_config):
    proxy = AuthProxy(registry.host, basic=True)
    try:
        name = f"{proxy.host}/{_repo()}:b"
        _tag(cli, base_image, name)
        assert cli("image", "push", name, check=False).returncode != 0
        cli("login", proxy.host, "-u", proxy.user, "--password-stdin", input=proxy.password)
        cli("image", "push", name)
        assert not [r for r in proxy.requests if r[1].startswith("/token")]
    finally:
        proxy.stop()


def test_tampered_blob_is_refused(cli, base_image, registry, proxy, engine_root, docker_config):
    name = f"{proxy.host}/{_repo()}:x"
    _tag(cli, base_image, f"{registry.host}/{name.split('/', 1)[1]}")
    _api(cli).push_image(f"{registry.host}/{name.split('/', 1)[1]}")
    _rm(cli, f"{registry.host}/{name.split('/', 1)[1]}", base_image)
    assert _blobs(engine_root) == []
    proxy.tamper = True
    res = cli("image", "pull", name, check=False)
    assert res.returncode != 0
    assert "does not match its digest" in res.stderr and res.stderr.count("\n") == 1
    assert cli("image", "ls", "-q").stdout.strip() == ""
    assert _blobs(engine_root) == []  # nothing of the refused pull stays, not even temporaries
    assert not os.listdir(os.path.join(engine_root, "snapshots")) if os.path.isdir(
        os.path.join(engine_root, "snapshots")) else True


def test_broken_download_resumes(cli, base_image, registry, proxy, docker_config):
    name = f"{proxy.host}/{_repo()}:r"
    _tag(cli, base_image, name)
    image_id = _inspect(cli, name)["id"]
    _api(cli).login(proxy.host, proxy.user, proxy.password)
    _api(cli).push_image(name)
    _rm(cli, name, base_image)
    proxy.cut_first_blob = True
    cli("image", "pull", name)
    assert _inspect(cli, name)["id"] == image_id
    ranges = [r[2]["Range"] for r in proxy.requests if r[0] == "GET" and "Range" in r[2]]
    assert ranges and ranges[0].startswith("bytes=") and ranges[0] != "bytes=0-"


def test_oci_index_platform_selection(cli, base_image, registry, engine_root, docker_config):
    """An OCI index with an arm64 and an amd64 entry (plus an attestation): the host's is pulled."""
    from engine.api import Engine
    from engine.images.registry.client import Session

    eng = Engine(engine_root)
    repo = _repo()
    name = f"{registry.host}/{repo}"
    _tag(cli, base_image, name + ":single")
    pushed = eng.push_image(name + ":single")
    session = Session(registry.host, repo, push=True)
    try:
        data, _, doc, digest = session.get_manifest(pushed.digest)
        from engine.images.config import host_architecture

        other = "arm64" if host_architecture() != "arm64" else "amd64"
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
            {"mediaType": doc["mediaType"], "digest": digest, "size": len(data),
             "platform": {"os": "linux", "architecture": other}},
            {"mediaType": doc["mediaType"], "digest": digest, "size": len(data),
             "platform": {"os": "unknown", "architecture": "unknown"}},
            {"mediaType": doc["mediaType"], "digest": digest, "size": len(data),
             "platform": {"os": "linux", "architecture": host_architecture()}}]}
        raw = json.dumps(index).encode()
        index_digest = session.put_manifest("multi", raw, index["mediaType"])
    finally:
        session.close()
    _rm(cli, name + ":single")
    cli("image", "pull", name + ":multi")
    info = _inspect(cli, name + ":multi")
    assert f"{name}@{index_digest}" in info["repo_digests"]
    res = cli("image", "pull", "--platform", "linux/s390x", name + ":multi", check=False)
    assert res.returncode != 0 and "no image for linux/s390x" in res.stderr


def test_save_load_round_trip(cli, base_image, engine_root, tmp_path):
    _tag(cli, base_image, "saved/one:1")
    image_id = _inspect(cli, "saved/one:1")["id"]
    archive = str(tmp_path / "out.tar")
    cli("image", "save", "-o", archive, "saved/one:1", base_image)
    with tarfile.open(archive) as t:
        names = t.getnames()
        manifest = json.load(t.extractfile("manifest.json"))
        index = json.load(t.extractfile("index.json"))
    assert {"manifest.json", "index.json", "oci-layout"} <= set(names)
    assert manifest[0]["RepoTags"] == ["saved/one:1", base_image]
    assert {m["annotations"]["io.containerd.image.name"] for m in index["manifests"]} == {
        "docker.io/saved/one:1", "docker.io/composer/busybox:latest"}
    cli("image", "rm", "-f", image_id)
    assert _blobs(engine_root) == []
    out = cli("image", "load", "-i", archive).stdout
    assert out.splitlines() == ["Loaded image: saved/one:1", f"Loaded image: {base_image}"]
    assert _inspect(cli, "saved/one:1")["id"] == image_id
    assert cli("container", "run", "--rm", "saved/one:1", "echo", "loaded").stdout.strip() == "loaded"
    # saving the same image again gives the same bytes
    again = str(tmp_path / "again.tar")
    cli("image", "save", "-o", again, "saved/one:1", base_image)
    assert open(archive, "rb").read() == open(again, "rb").read()
    res = cli("image", "save", "-o", str(tmp_path / "x.tar"), "nosuch:1", check=False)
    assert res.returncode != 0 and not os.path.exists(tmp_path / "x.tar")


def test_stack_pull_push_images_and_policies(cli, base_image, registry, engine_root, docker_config):
    from composer.errors import ComposerError
    from composer.load.loader import LoadOptions, load
    from composer.converge.pull import ensure_images

    repo = f"{registry.host}/{_repo()}"
    _tag(cli, base_image, f"{repo}/web:1")
    _tag(cli, base_image, f"{repo}/built:1")
    _api(cli).push_image(f"{repo}/web:1")
    cli.write("compose.yaml", f"""
services:
  web:
    image: {repo}/web:1
    command: ["sleep", "30"]
  job:
    image: {repo}/web:1
    pull_policy: never
    command: ["true"]
  app:
    image: {repo}/built:1
    build: .
    command: ["true"]
""")
    cli.write("Dockerfile", f"FROM {base_image}\n")
    # `push` sends only what the stack builds (build: and image:)
    out = cli("push").stdout
    assert "built]" in out and "/web]" not in out and "Mounted from" in out  # the layer is linked, not sent
    _rm(cli, f"{repo}/web:1", f"{repo}/built:1")
    # `pull` fetches what the services run (not the buildable one's, unless asked)
    out = cli("pull").stdout
    assert f"{repo}/web:1" in out and f"{repo}/built:1" in out
    assert {f"{repo}/web:1", f"{repo}/built:1"} <= {t for i in _api(cli).list_images() for t in i.repo_tags}

    def project(policy: str | None = None):
        p = load(LoadOptions(files=[os.path.join(cli.cwd, "compose.yaml")], project_name=cli.project))
        if policy:
            p.services["web"].pull_policy = policy
        return p

    eng = _api(cli)
    assert ensure_images(project(), eng) == {}  # missing (the default): all here, nothing pulled
    pulled = ensure_images(project("always"), eng)
    assert list(pulled) == [f"{repo}/web:1"]
    assert ensure_images(project("daily"), eng) == {}  # pulled just now
    assert list(ensure_images(project("every_1s"), eng, None)) in ([], [f"{repo}/web:1"])
    _rm(cli, f"{repo}/web:1")
    with pytest.raises(ComposerError, match="pull_policy is never"):
        ensure_images(project(), eng)  # job's image is gone and it may not pull it
    lines = []
    got = ensure_images(project(), eng, "missing", lambda e: lines.append(e.status))
    assert list(got) == [f"{repo}/web:1"] and any("Pulled" in line for line in lines)
    # a service without build: whose image another service builds is left to the builder too
    both = project()
    both.services["job"].pull_policy = "missing"
    both.services["job"].image = both.services["app"].image
    _rm(cli, f"{repo}/built:1")
    assert f"{repo}/built:1" not in ensure_images(both, eng)
    with pytest.raises(ComposerError, match="services.web.pull_policy: invalid pull_policy"):
        ensure_images(project("sometimes"), eng)
    # `images` lists what the stack's containers run
    cli("up", "-d", "web")
    rows = cli("images").stdout.splitlines()
    assert rows[0].split()[:3] == ["CONTAINER", "REPOSITORY", "TAG"] and f"{repo}/web" in rows[1]
    cli("down", "-t", "0")


def test_pull_oci_manifest_with_zstd_and_plain_layers(cli, base_image, registry, engine_root, tmp_path, docker_config):
    """An OCI manifest (no mediaType field, as some tools write) whose layers are zstd and uncompressed."""
    import hashlib
    import shutil
    import subprocess

    from engine.images.registry.client import Session

    if shutil.which("zstd") is None:
        pytest.skip("the zstd program is not installed")
    eng = _api(cli)
    image = eng.inspect_image(base_image)
    plain = eng.images.blobs.path(image.layers[0])
    zst = str(tmp_path / "layer.zst")
    subprocess.run(["zstd", "-q", "-f", plain, "-o", zst], check=True)
    repo = _repo()
    session = Session(registry.host, repo, push=True)
    try:
        layers = []
        for path, media_type in ((zst, "application/vnd.oci.image.layer.v1.tar+zstd"),
                                 (plain, "application/vnd.oci.image.layer.v1.tar")):
            data = open(path, "rb").read()
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            session.upload_blob(path, digest, len(data), 1 << 30)
            layers.append({"mediaType": media_type, "digest": digest, "size": len(data)})
        config = json.loads(eng.images.blobs.read(image.id))
        config["rootfs"]["diff_ids"] = [image.layers[0], image.layers[0]]
        raw_config = json.dumps(config).encode()
        config_digest = "sha256:" + hashlib.sha256(raw_config).hexdigest()
        cpath = tmp_path / "config.json"
        cpath.write_bytes(raw_config)
        session.upload_blob(str(cpath), config_digest, len(raw_config), 1 << 30)
        manifest = {"schemaVersion": 2, "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                                   "digest": config_digest, "size": len(raw_config)},
                    "layers": layers}
        session.put_manifest("z", json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
    finally:
        session.close()
    _rm(cli, base_image)
    cli("image", "pull", f"{registry.host}/{repo}:z")
    assert _inspect(cli, f"{registry.host}/{repo}:z")["id"] == config_digest
    out = cli("container", "run", "--rm", f"{registry.host}/{repo}:z", "echo", "zstd-ok").stdout
    assert out.strip() == "zstd-ok"
