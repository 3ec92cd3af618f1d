"""`composer config` and CLI error handling, run in-process (no root needed)."""
import json

from composer.cli.main import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_config_json_shape(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    image: nginx\n    ports: ['127.0.0.1:8080:80']\n    volumes: [data:/d]\nvolumes:\n  data:\n")
    code, out, err = run(capsys, "-p", "demo", "config", "--format", "json")
    assert code == 0, err
    cfg = json.loads(out)
    assert cfg["name"] == "demo"
    assert cfg["services"]["web"]["ports"] == [
        {"mode": "ingress", "host_ip": "127.0.0.1", "target": 80, "published": "8080", "protocol": "tcp"}]
    assert cfg["services"]["web"]["networks"] == {"default": None}
    assert cfg["networks"] == {"default": {"name": "demo_default", "ipam": {}}}
    assert cfg["volumes"] == {"data": {"name": "demo_data"}}


def test_config_lists(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "compose.yaml").write_text("services:\n  b: {image: y}\n  a: {image: x}\n")
    assert run(capsys, "config", "--services")[1].split() == ["b", "a"]
    assert run(capsys, "config", "--images")[1].split() == ["y", "x"]
    assert run(capsys, "config", "-q") == (0, "", "")


def test_errors_are_one_line_without_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "config")
    assert code != 0
    assert err.count("\n") == 1 and err.startswith("error: no configuration file provided")
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: x\n    command: [unclosed\n")
    code, out, err = run(capsys, "config")
    assert code != 0 and err.count("\n") == 1
    assert f"{tmp_path}/compose.yaml:" in err and "Traceback" not in err


def test_interpolation_error_names_variable_and_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DB_PASSWORD", raising=False)
    (tmp_path / "compose.yaml").write_text("services:\n  db:\n    image: x\n    environment:\n      P: ${DB_PASSWORD:?set it}\n")
    code, out, err = run(capsys, "config")
    assert code != 0
    assert "DB_PASSWORD" in err and f"{tmp_path}/compose.yaml:5" in err and "set it" in err


STACK = """
x-shared: {a: 1}
services:
  web:
    image: nginx
    depends_on:
      api: {condition: service_healthy}
    environment: [COST=$$5]
  api:
    build: ./api
    depends_on: [db]
  db:
    image: postgres:${PG:-16}
    volumes: [data:/var/lib/postgresql/data]
  debug:
    image: busybox
    profiles: [debug, tools]
volumes:
  data:
"""


def stack(tmp_path, monkeypatch, text=STACK):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COMPOSE_PROFILES", raising=False)
    (tmp_path / "compose.yaml").write_text(text)


def test_config_listings(tmp_path, capsys, monkeypatch):
    stack(tmp_path, monkeypatch)
    assert run(capsys, "-p", "demo", "config", "--services")[1].split() == ["web", "api", "db"]
    assert run(capsys, "-p", "demo", "--profile", "debug", "config", "--services")[1].split() == [
        "web", "api", "db", "debug"]
    assert run(capsys, "-p", "demo", "config", "--profiles")[1].split() == ["debug", "tools"]
    assert run(capsys, "-p", "demo", "config", "--images")[1].split() == ["nginx", "demo-api", "postgres:16"]
    assert run(capsys, "-p", "demo", "config", "--volumes")[1].split() == ["data"]
    assert run(capsys, "-p", "demo", "config", "--networks")[1].split() == ["default"]


def test_config_hash(tmp_path, capsys, monkeypatch):
    stack(tmp_path, monkeypatch)
    lines = run(capsys, "config", "--hash", "*")[1].splitlines()
    assert [line.split()[0] for line in lines] == ["web", "api", "db"]
    one = run(capsys, "config", "--hash", "db")[1]
    assert one == lines[2] + "\n" and len(one.split()[1]) == 64
    code, _, err = run(capsys, "config", "--hash", "nope")
    assert code != 0 and "no such service: nope" in err


def test_config_escapes_dollars_and_keeps_extensions(tmp_path, capsys, monkeypatch):
    stack(tmp_path, monkeypatch)
    cfg = json.loads(run(capsys, "config", "--format", "json")[1])
    assert cfg["services"]["web"]["environment"] == {"COST": "$$5"}
    assert cfg["x-shared"] == {"a": 1}
    assert cfg["services"]["api"]["build"] == {"context": str(tmp_path / "api"), "dockerfile": "Dockerfile"}
    import yaml

    text = run(capsys, "config")[1]
    assert list(yaml.safe_load(text)) == ["name", "services", "networks", "volumes", "x-shared"]
    assert "command: null" not in text and "ipam" not in text


def test_config_no_interpolate_no_normalize_environment(tmp_path, capsys, monkeypatch):
    stack(tmp_path, monkeypatch)
    monkeypatch.setenv("PG", "15")
    cfg = json.loads(run(capsys, "config", "--format", "json", "--no-interpolate", "--no-normalize")[1])
    assert cfg["services"]["db"]["image"] == "postgres:$${PG:-16}"
    assert cfg["services"]["db"]["volumes"] == ["data:/var/lib/postgresql/data"]
    assert "debug" not in cfg["services"]
    out = run(capsys, "config", "--environment")[1]
    assert "PG=15\n" in out


def test_config_selected_services_bring_dependencies(tmp_path, capsys, monkeypatch):
    stack(tmp_path, monkeypatch)
    cfg = json.loads(run(capsys, "config", "--format", "json", "api")[1])
    assert set(cfg["services"]) == {"api", "db"}


def test_graph_formats(tmp_path, capsys, monkeypatch):
    stack(tmp_path, monkeypatch)
    code, out, err = run(capsys, "-p", "demo", "graph")
    assert code == 0, err
    assert out.splitlines() == ["db", "api <- db", "web <- api (healthy)"]
    dot = run(capsys, "-p", "demo", "graph", "--format", "dot")[1]
    assert dot.startswith('digraph "demo" {') and '"web" -> "api" [label="healthy"];' in dot
    mermaid = run(capsys, "-p", "demo", "graph", "--format", "mermaid")[1]
    assert mermaid.splitlines()[0] == "flowchart LR" and '-->|healthy|' in mermaid


def test_graph_cycle_is_an_error(tmp_path, capsys, monkeypatch):
    stack(tmp_path, monkeypatch, "services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}\n")
    code, _, err = run(capsys, "graph")
    assert code != 0 and err.count("\n") == 1 and "a -> b -> a" in err


def test_config_no_normalize_adds_nothing_the_files_do_not_say(tmp_path, capsys, monkeypatch):
    stack(tmp_path, monkeypatch, "services:\n  a:\n    image: x\n    ports: ['80:80']\n    links: [b]\n"
                                 "  b:\n    build: ./b\n    volumes: [data:/d]\nvolumes:\n  data:\n")
    cfg = json.loads(run(capsys, "config", "--format", "json", "--no-normalize")[1])
    assert cfg["services"]["a"]["ports"] == [{"mode": "ingress", "target": 80, "published": "80", "protocol": "tcp"}]
    assert "networks" not in cfg and "networks" not in cfg["services"]["a"]
    assert "depends_on" not in cfg["services"]["a"]
    assert cfg["services"]["b"]["build"] == {"context": str(tmp_path / "b")}
    assert cfg["volumes"] == {"data": {}}
