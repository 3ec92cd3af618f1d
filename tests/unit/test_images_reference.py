"""Image references: Docker's grammar and familiar names, beyond tests/unit/test_references.py."""
import pytest

from engine.errors import InvalidArgument
from engine.images.reference import normalize, parse


@pytest.mark.parametrize("ref,familiar", [
    ("registry-1.docker.io/x/y", "registry-1.docker.io/x/y:latest"),
    ("docker.io/user/app:v1", "user/app:v1"),
    ("Registry.Example.COM/app", "Registry.Example.COM/app:latest"),  # hosts may have capitals
    ("MyHost/app", "MyHost/app:latest"),  # a capitalised first component is a host, as in Docker
    ("[::1]:5000/app:1", "[::1]:5000/app:1"),
    ("a.b/c__d/e-f/g.h:T_a.g-1", "a.b/c__d/e-f/g.h:T_a.g-1"),
    ("localhost:5000", "localhost:5000"),  # repository "localhost", tag "5000"
    ("app:" + "t" * 128, "app:" + "t" * 128),
])
def test_more_familiar_names(ref, familiar):
    assert normalize(ref) == familiar


@pytest.mark.parametrize("bad", [
    "app:" + "t" * 129, "a" * 256, "bad_host!.com/app", "host.com/UPPER", "app:.tag", "app:-tag",
    "0123456789abcdef" * 4, "a/b/", "/a", "app:tag:more", "app@sha512:" + "a" * 128,
    "a..b", "a-", "_a",
])
def test_more_invalid(bad):
    with pytest.raises(InvalidArgument, match="invalid reference format"):
        parse(bad)


def test_digest_only_reference_has_no_tag():
    r = parse("busybox@sha256:" + "c" * 64)
    assert (r.path, r.tag, r.digest) == ("library/busybox", None, "sha256:" + "c" * 64)
