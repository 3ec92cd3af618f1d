import ipaddress

import pytest

from engine.errors import EngineError
from engine.network.ipam import allocate_ip, pick_subnet


def test_pick_subnet_skips_everything_taken():
    taken = [ipaddress.ip_network("10.199.0.0/24"), ipaddress.ip_network("10.199.1.0/25"),
             ipaddress.ip_network("10.0.0.0/8").subnets(new_prefix=16).__next__()]
    assert str(pick_subnet(taken)) == "10.199.2.0/24"


def test_pick_subnet_avoids_a_covering_route():
    taken = [ipaddress.ip_network("10.199.0.0/16")]
    assert str(pick_subnet(taken)) == "10.198.0.0/24"


def test_allocate_ip():
    assert allocate_ip("10.1.2.0/24", "10.1.2.1", set()) == "10.1.2.2"
    assert allocate_ip("10.1.2.0/24", "10.1.2.1", {"10.1.2.2", "10.1.2.3"}) == "10.1.2.4"
    with pytest.raises(EngineError):
        allocate_ip("10.1.2.0/30", "10.1.2.1", {"10.1.2.2"})


def test_reservations_ignore_stale_owners(tmp_path, monkeypatch):
    import json

    from engine.network import ipam

    monkeypatch.setattr(ipam, "RESERVED", str(tmp_path / "subnets"))
    live = tmp_path / "live.json"
    live.write_text(json.dumps({"subnet": "10.199.0.0/24"}))
    ipam.reserve("10.199.0.0/24", str(live))
    ipam.reserve("10.199.1.0/24", str(tmp_path / "gone.json"))  # owner record missing: stale
    assert ipam.reserved() == [ipaddress.ip_network("10.199.0.0/24")]
    assert len(list((tmp_path / "subnets").iterdir())) == 1  # the stale one was dropped
    assert ipam.reserved(exclude_record=str(live)) == []
    ipam.release("10.199.0.0/24", "someone else")
    assert ipam.reserved() != []
    ipam.release("10.199.0.0/24", str(live))
    ipam.release("10.199.0.0/24", str(live))
    assert ipam.reserved() == []
