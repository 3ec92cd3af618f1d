import pytest

from engine.errors import InvalidArgument
from engine.images.reference import normalize, parse


@pytest.mark.parametrize("ref,familiar", [
    ("busybox", "busybox:latest"),
    ("busybox:1.36", "busybox:1.36"),
    ("library/busybox", "busybox:latest"),
    ("docker.io/library/busybox:1", "busybox:1"),
    ("index.docker.io/library/busybox", "busybox:latest"),
    ("user/app", "user/app:latest"),
    ("localhost:5000/app", "localhost:5000/app:latest"),
    ("localhost/app:dev", "localhost/app:dev"),
    ("registry.example.com:8443/team/app:v1.2.3", "registry.example.com:8443/team/app:v1.2.3"),
    ("app@sha256:" + "a" * 64, "app@sha256:" + "a" * 64),
    ("app:1@sha256:" + "b" * 64, "app:1@sha256:" + "b" * 64),
])
def test_normalize(ref, familiar):
    assert normalize(ref) == familiar


def test_parts():
    r = parse("localhost:5000/team/app:7")
    assert (r.registry, r.path, r.tag, r.digest) == ("localhost:5000", "team/app", "7", None)
    assert parse("redis").path == "library/redis"


@pytest.mark.parametrize("bad", ["", "UPPER", "app:", "app:bad tag", "app@sha256:short", "a//b", "-lead"])
def test_invalid(bad):
    with pytest.raises(InvalidArgument):
        parse(bad)
