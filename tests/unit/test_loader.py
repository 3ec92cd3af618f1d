import json

import pytest

from composer.errors import StackFileError
from composer.graph import Graph
from composer.load.loader import LoadOptions, load


def write(tmp_path, name, text):
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return str(p)


def load_dir(tmp_path, **kw):
    kw.setdefault("environ", {})
    return load(LoadOptions(**kw), cwd=str(tmp_path))


def test_discovers_compose_yaml_and_override(tmp_path):
    write(tmp_path, "compose.yaml", "services:\n  web:\n    image: a\n")
    write(tmp_path, "compose.override.yaml", "services:\n  web:\n    image: b\n    environment: [X=1]\n")
    p = load_dir(tmp_path)
    assert p.services["web"].image == "b"
    assert p.services["web"].environment == {"X": "1"}
    assert p.name == tmp_path.name.lower().replace(".", "")


def test_finds_file_in_parent_directory(tmp_path):
    write(tmp_path, "docker-compose.yml", "services:\n  web:\n    image: a\n")
    sub = tmp_path / "deep" / "er"
    sub.mkdir(parents=True)
    p = load(LoadOptions(environ={}), cwd=str(sub))
    assert p.working_dir == str(tmp_path)


def test_no_file_is_a_clear_error(tmp_path):
    with pytest.raises(StackFileError, match="no configuration file provided"):
        load_dir(tmp_path)


def test_project_name_precedence(tmp_path):
    write(tmp_path, "compose.yaml", "name: fromfile\nservices:\n  a:\n    image: x\n")
    assert load_dir(tmp_path).name == "fromfile"
    assert load_dir(tmp_path, environ={"COMPOSE_PROJECT_NAME": "fromenv"}).name == "fromenv"
    assert load_dir(tmp_path, project_name="fromflag", environ={"COMPOSE_PROJECT_NAME": "fromenv"}).name == "fromflag"
    with pytest.raises(StackFileError, match="invalid project name"):
        load_dir(tmp_path, project_name="Bad Name")


def test_dotenv_feeds_interpolation_and_process_env_wins(tmp_path):
    write(tmp_path, ".env", "# comment\nTAG=1.0\nexport HOST=db\nQ=\"a b\"\n")
    write(tmp_path, "compose.yaml", "services:\n  a:\n    image: img:${TAG}\n    environment:\n      H: $HOST\n      Q: ${Q}\n")
    p = load_dir(tmp_path)
    assert p.services["a"].image == "img:1.0"
    assert p.services["a"].environment == {"H": "db", "Q": "a b"}
    p = load_dir(tmp_path, environ={"TAG": "2.0"})
    assert p.services["a"].image == "img:2.0"


def test_short_syntax_is_normalized(tmp_path):
    write(tmp_path, "compose.yaml", """
services:
  web:
    image: x
    command: sh -c 'echo "hi there"'
    ports: ["8080:80", "127.0.0.1:9000-9001:9000-9001/udp", "[::1]:7000:70", "5000"]
    volumes: ["data:/data:ro", "./src:/src", "/anon"]
    depends_on: [db]
    labels: [a=b]
  db:
    image: y
volumes:
  data: {}
""")
    p = load_dir(tmp_path)
    web = p.services["web"]
    assert web.command == ["sh", "-c", 'echo "hi there"']
    raw_ports = p.raw["services"]["web"]["ports"]
    assert raw_ports[0] == {"mode": "ingress", "target": 80, "published": "8080", "protocol": "tcp"}
    assert raw_ports[1] == {"mode": "ingress", "target": 9000, "published": "9000", "protocol": "udp",
                            "host_ip": "127.0.0.1"}
    assert raw_ports[2]["target"] == 9001
    assert raw_ports[3]["host_ip"] == "::1" and raw_ports[3]["target"] == 70
    assert raw_ports[4] == {"mode": "ingress", "target": 5000, "protocol": "tcp"}
    assert [(m.type, m.source, m.target, m.read_only) for m in web.volumes] == [
        ("volume", "data", "/data", True), ("bind", str(tmp_path / "src"), "/src", False), ("volume", "", "/anon", False)]
    assert web.depends_on["db"].condition == "service_started"
    assert web.labels == {"a": "b"}
    assert p.networks["default"].name == f"{p.name}_default"
    assert p.volumes["data"].name == f"{p.name}_data"
    json.dumps(p.raw)  # the config output is plain JSON


def test_invalid_yaml_names_line(tmp_path):
    path = write(tmp_path, "compose.yaml", "services:\n  web:\n    image: x\n    ports: [\n")
    with pytest.raises(StackFileError) as e:
        load_dir(tmp_path)
    assert str(e.value).startswith(f"{path}:")
    assert "invalid YAML" in str(e.value)


def test_undeclared_volume_and_unknown_dependency(tmp_path):
    write(tmp_path, "compose.yaml", "services:\n  a:\n    image: x\n    volumes: [nope:/d]\n")
    with pytest.raises(StackFileError, match="volume 'nope' is not declared"):
        load_dir(tmp_path)
    write(tmp_path, "compose.yaml", "services:\n  a:\n    image: x\n    depends_on: [ghost]\n")
    with pytest.raises(StackFileError, match="depends on service 'ghost', which is not defined"):
        load_dir(tmp_path)


def test_dependency_cycle_is_named(tmp_path):
    write(tmp_path, "compose.yaml", """
services:
  a: {image: x, depends_on: [b]}
  b: {image: x, depends_on: [c]}
  c: {image: x, depends_on: [a]}
""")
    with pytest.raises(StackFileError, match="a -> b -> c -> a"):
        Graph(load_dir(tmp_path))


def test_graph_order_puts_dependencies_first(tmp_path):
    write(tmp_path, "compose.yaml", """
services:
  web: {image: x, depends_on: [api]}
  api: {image: x, depends_on: [db, cache]}
  db: {image: x}
  cache: {image: x}
""")
    order = Graph(load_dir(tmp_path)).order()
    assert order.index("db") < order.index("api") < order.index("web")
    assert order.index("cache") < order.index("api")


def test_config_hash_follows_config(tmp_path):
    write(tmp_path, "compose.yaml", "services:\n  a:\n    image: x\n    environment: [A=1]\n")
    h1 = load_dir(tmp_path).services["a"].config_hash()
    assert load_dir(tmp_path).services["a"].config_hash() == h1
    write(tmp_path, "compose.yaml", "services:\n  a:\n    image: x\n    environment: [A=2]\n")
    assert load_dir(tmp_path).services["a"].config_hash() != h1


def test_reset_and_override_tags(tmp_path):
    write(tmp_path, "compose.yaml", "services:\n  a:\n    image: x\n    ports: ['80:80']\n    environment: {A: '1', B: '2'}\n")
    write(tmp_path, "compose.override.yaml", "services:\n  a:\n    ports: !reset []\n    environment: !override {C: '3'}\n")
    p = load_dir(tmp_path)
    assert p.services["a"].ports == []
    assert p.services["a"].environment == {"C": "3"}


def test_yaml_booleans_and_interpolated_booleans(tmp_path):
    write(tmp_path, "compose.yaml", """
services:
  a:
    image: x
    restart: no
    volumes:
      - type: bind
        source: ./d
        target: /d
        read_only: ${RO:-false}
""")
    svc = load_dir(tmp_path).services["a"]
    assert svc.restart.policy == "no"
    assert svc.volumes[0].read_only is False
    assert load_dir(tmp_path, environ={"RO": "true"}).services["a"].volumes[0].read_only is True
