"""The stack-file JSON Schema (composer/schemas/compose-spec.json): realistic files pass, typical mistakes fail."""
from __future__ import annotations

import importlib.util
import json
import os
import textwrap

import jsonschema
import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA_FILE = os.path.join(REPO, "composer", "schemas", "compose-spec.json")

with open(SCHEMA_FILE, encoding="utf-8") as _f:
    SCHEMA = json.load(_f)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def parse(text: str) -> dict:
    return yaml.safe_load(textwrap.dedent(text))


def errors(data: dict) -> list[jsonschema.ValidationError]:
    return list(VALIDATOR.iter_errors(data))


def assert_valid(data: dict) -> None:
    errs = errors(data)
    assert not errs, [f"{list(e.absolute_path)}: {e.message}" for e in errs]


def _flatten(errs):
    for e in errs:
        yield e
        yield from _flatten(e.context or [])


def assert_invalid(data: dict, path: list | None = None) -> None:
    errs = errors(data)
    assert errs, "expected the file to be rejected"
    if path is not None:
        paths = [list(e.absolute_path) for e in _flatten(errs)]
        assert any(p[:len(path)] == path for p in paths), paths


def service(**attrs) -> dict:
    return {"services": {"app": {"image": "alpine", **attrs}}}


# -- the schema itself -----------------------------------------------------------

def test_schema_is_a_valid_draft_2020_12_schema():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_every_definition_has_a_description():
    missing = [name for name, d in SCHEMA["$defs"].items() if not d.get("description")]
    assert not missing


def test_json_matches_its_generator():
    spec = importlib.util.spec_from_file_location("build_schema", os.path.join(REPO, "composer", "schemas", "build_schema.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with open(SCHEMA_FILE, encoding="utf-8") as f:
        assert f.read() == mod.render(), "run: python3 composer/schemas/build_schema.py"


SERVICE_ATTRIBUTES = """
annotations attach blkio_config build cap_add cap_drop cgroup cgroup_parent command configs container_name
cpu_count cpu_percent cpu_period cpu_quota cpu_rt_period cpu_rt_runtime cpu_shares cpus cpuset credential_spec
depends_on deploy develop device_cgroup_rules devices dns dns_opt dns_search domainname entrypoint env_file
environment expose extends external_links extra_hosts gpus group_add healthcheck hostname image init ipc
isolation label_file labels links logging mac_address mem_limit mem_reservation mem_swappiness memswap_limit
models network_mode networks oom_kill_disable oom_score_adj pid pids_limit platform ports post_start pre_stop
privileged profiles provider pull_policy read_only restart runtime scale secrets security_opt shm_size
stdin_open stop_grace_period stop_signal storage_opt sysctls tmpfs tty ulimits use_api_socket user userns_mode
uts volumes volumes_from working_dir
""".split()


def test_every_service_attribute_is_known():
    known = set(SCHEMA["$defs"]["service"]["properties"])
    assert set(SERVICE_ATTRIBUTES) <= known, sorted(set(SERVICE_ATTRIBUTES) - known)


def test_top_level_keys():
    assert set(SCHEMA["properties"]) == {"version", "name", "include", "services", "networks", "volumes",
                                         "configs", "secrets", "models"}


# -- realistic files that must pass ------------------------------------------------

def test_web_and_db_stack():
    assert_valid(parse("""
        version: "3.9"
        name: shop
        services:
          web:
            build: .
            ports: ["8080:80", 443, "127.0.0.1:9000:9000/udp", "[::1]:53:53/udp", "3000-3005", "9090-9091:8080-8081"]
            environment:
              DATABASE_URL: postgres://db/shop
              DEBUG: true
              WORKERS: 4
              EMPTY:
            depends_on:
              db:
                condition: service_healthy
                restart: true
              cache:
                condition: service_started
                required: false
            restart: unless-stopped
            networks: [front, back]
          cache:
            image: redis:7
            restart: "no"
          db:
            image: postgres:16
            environment: [POSTGRES_PASSWORD=secret, POSTGRES_DB]
            volumes:
              - dbdata:/var/lib/postgresql/data
              - ./init.sql:/docker-entrypoint-initdb.d/init.sql:ro
            healthcheck:
              test: ["CMD-SHELL", "pg_isready -U postgres"]
              interval: 10s
              timeout: 5s
              retries: 5
              start_period: 1m30s
              start_interval: 500ms
            networks:
              back:
                aliases: [database]
                ipv4_address: 172.20.0.10
        networks:
          front:
          back:
            driver: bridge
            ipam:
              config:
                - subnet: 172.20.0.0/16
                  gateway: 172.20.0.1
        volumes:
          dbdata: {}
    """))


def test_unquoted_no_restart_reads_as_false_and_is_accepted():
    assert_valid(parse("""
        services:
          app:
            image: alpine
            restart: no
    """))


def test_long_form_ports_and_volumes():
    assert_valid(parse("""
        services:
          app:
            image: nginx
            ports:
              - target: 80
                published: "8080"
                host_ip: 127.0.0.1
                protocol: tcp
                mode: host
                name: web
                app_protocol: http
              - target: 53
                published: 5353
                protocol: udp
            volumes:
              - type: bind
                source: ./site
                target: /usr/share/nginx/html
                read_only: true
                bind:
                  create_host_path: true
                  propagation: rprivate
                  selinux: z
              - type: volume
                source: cache
                target: /var/cache/nginx
                volume:
                  nocopy: true
                  subpath: nginx
              - type: tmpfs
                target: /tmp
                tmpfs:
                  size: 64m
                  mode: 1777
              - type: image
                source: alpine:3
                target: /opt/tools
                image:
                  subpath: usr/bin
        volumes:
          cache:
            driver: local
            driver_opts: {type: tmpfs, device: tmpfs}
            labels: {purpose: cache}
    """))


def test_build_object_with_all_the_trimmings():
    assert_valid(parse("""
        services:
          api:
            build:
              context: ./api
              dockerfile: Dockerfile.prod
              args:
                VERSION: 1.2
                DEBUG: false
              ssh: [default]
              cache_from: [type=local,src=/tmp/cache]
              cache_to: [type=local,dest=/tmp/cache]
              additional_contexts:
                shared: ../shared
              entitlements: [network.host]
              extra_hosts: ["somehost:162.242.195.82"]
              labels: [org.example.team=api]
              network: host
              no_cache: false
              platforms: [linux/amd64, linux/arm64]
              privileged: false
              pull: true
              provenance: mode=max
              sbom: true
              secrets:
                - npmrc
                - source: token
                  target: /run/secrets/token
              shm_size: 2gb
              tags: [registry.example/api:latest]
              target: prod
              ulimits:
                nofile: {soft: 1024, hard: 2048}
              x-notes: anything goes
            image: registry.example/api:1.2
          inline:
            build:
              dockerfile_inline: |
                FROM alpine
                RUN echo hi
        secrets:
          npmrc: {file: ./.npmrc}
          token: {environment: API_TOKEN}
    """))


def test_deploy_resources_and_policies():
    assert_valid(parse("""
        services:
          worker:
            image: worker
            deploy:
              mode: replicated
              replicas: 3
              endpoint_mode: vip
              labels: {tier: backend}
              placement:
                constraints: [node.role == manager]
                preferences: [{spread: node.labels.zone}]
                max_replicas_per_node: 2
              resources:
                limits: {cpus: "0.50", memory: 512M, pids: 100}
                reservations:
                  cpus: 0.25
                  memory: 128m
                  devices:
                    - driver: nvidia
                      count: all
                      capabilities: [gpu]
                    - capabilities: [gpu, utility]
                      device_ids: ["0", "3"]
                  generic_resources:
                    - discrete_resource_spec: {kind: gpu, value: 2}
              restart_policy: {condition: on-failure, delay: 5s, max_attempts: 3, window: 120s}
              update_config: {parallelism: 2, delay: 10s, failure_action: rollback, order: start-first,
                              monitor: 30s, max_failure_ratio: 0.1}
              rollback_config: {parallelism: 1, order: stop-first}
            gpus: all
    """))


def test_develop_watch_and_hooks():
    assert_valid(parse("""
        services:
          frontend:
            build: ./web
            develop:
              watch:
                - path: ./web/src
                  action: sync
                  target: /app/src
                  ignore: [node_modules/]
                  initial_sync: true
                - path: ./web/package.json
                  action: rebuild
                - path: ./web/conf
                  action: sync+exec
                  target: /etc/app
                  include: ["*.conf"]
                  exec:
                    command: ["kill", "-HUP", "1"]
                    user: root
                - path: ./web/nginx.conf
                  action: sync+restart
                  target: /etc/nginx/nginx.conf
            post_start:
              - command: ./warm-cache.sh
                user: "1000"
                privileged: false
                working_dir: /app
                environment: {MODE: fast}
            pre_stop:
              - command: [./drain.sh, --timeout, "10"]
    """))


def test_include_extends_and_x_anchors():
    assert_valid(parse("""
        include:
          - ../commons/compose.yaml
          - path: [../db/compose.yaml, ../db/compose.override.yaml]
            env_file: ../db/.env
            project_directory: ../db
        x-defaults: &defaults
          restart: always
          logging:
            driver: json-file
            options: {max-size: 10m, max-file: 3}
        x-env: &env
          TZ: UTC
        services:
          a:
            <<: *defaults
            image: alpine
            environment:
              <<: *env
              ROLE: a
            x-team: platform
          b:
            extends: a
          c:
            extends:
              file: common.yaml
              service: base
            image: alpine
    """))


def test_every_other_service_attribute_in_a_plausible_form():
    assert_valid(service(
        annotations={"com.example.note": "x"}, attach=False,
        blkio_config={"weight": 300, "weight_device": [{"path": "/dev/sda", "weight": 400}],
                      "device_read_bps": [{"path": "/dev/sda", "rate": "12mb"}],
                      "device_write_iops": [{"path": "/dev/sda", "rate": 120}]},
        cap_add=["NET_ADMIN"], cap_drop=["ALL"], cgroup="private", cgroup_parent="m-executor-abcd",
        command="sleep infinity", configs=["cfg", {"source": "cfg2", "target": "/etc/cfg2", "uid": "103",
                                                  "gid": 103, "mode": 0o440}],
        container_name="my-app", cpu_count=2, cpu_percent=50, cpu_period=100000, cpu_quota=50000,
        cpu_rt_period="1400us", cpu_rt_runtime=95000, cpu_shares=512, cpus=1.5, cpuset="0-1",
        credential_spec={"config": "my_credential_spec"},
        device_cgroup_rules=["c 1:3 mr", "a 7:* rmw"],
        devices=["/dev/ttyUSB0:/dev/ttyUSB0:rwm", {"source": "/dev/sda", "target": "/dev/xvda", "permissions": "r"}],
        dns="8.8.8.8", dns_opt=["use-vc", "no-tld-query"], dns_search=["dc1.example.com"], domainname="example.com",
        entrypoint=["/entry.sh", "-v"],
        env_file=["a.env", {"path": "b.env", "required": False}, {"path": "c.env", "format": "raw"}],
        expose=["3000", 8000, "8000-8010/tcp"], external_links=["redis_1:redis"],
        extra_hosts={"somehost": "162.242.195.82", "multi": ["10.0.0.1", "::1"]},
        group_add=["mail", 1000], hostname="app", init=True, ipc="shareable", isolation="default",
        label_file=["./app.labels"], labels=["com.example.description=Accounting"], links=["db:database"],
        logging={"driver": "syslog", "options": {"syslog-address": "tcp://192.168.0.42:123"}},
        mac_address="02:42:ac:11:65:43", mem_limit="1g", mem_reservation=104857600, mem_swappiness=60,
        memswap_limit=-1, models=["llm"], network_mode="host", oom_kill_disable=True, oom_score_adj=-500,
        pid="host", pids_limit=-1, platform="linux/arm64/v8", privileged=True, profiles=["debug"],
        pull_policy="every_12h", read_only="true", runtime="runc", scale=2, secrets=["token"],
        security_opt=["no-new-privileges:true"], shm_size="64M", stdin_open=True, stop_grace_period="1m30s",
        stop_signal="SIGUSR1", storage_opt={"size": "20G"}, sysctls={"net.core.somaxconn": 1024},
        tmpfs=["/run", "/tmp:size=64m"], tty=True,
        ulimits={"nproc": 65535, "nofile": {"soft": 20000, "hard": 40000}}, use_api_socket=True,
        user=1000, userns_mode="host", uts="host", volumes_from=["other:ro"], working_dir="/srv"))


def test_interpolated_strings_stand_in_for_numbers_and_booleans():
    # interpolation only produces strings, so "${X}" for a number must still pass
    assert_valid(service(scale="3", cpus="0.5", read_only="false", tty="yes", init="off",
                         mem_limit="512m", pids_limit="-1", stop_grace_period="10s",
                         ports=["8080:80", "127.0.0.1::80"], expose=["9000"],
                         healthcheck={"retries": "3", "interval": "30s", "disable": "False"},
                         deploy={"replicas": "2", "resources": {"limits": {"cpus": "1", "memory": "1gb"}}}))


def test_networks_volumes_configs_secrets_models_definitions():
    assert_valid(parse("""
        services:
          app:
            image: alpine
            networks:
              public:
                priority: 100
                gw_priority: 10
                interface_name: eth1
                ipv6_address: "2001:db8::10"
                link_local_ips: [169.254.8.8]
                mac_address: 02:42:ac:11:00:02
                driver_opts: {com.example.opt: "1"}
              private:
            models:
              llm:
                endpoint_var: AI_URL
                model_var: AI_MODEL
        networks:
          public:
            name: public-net
            driver: bridge
            driver_opts: {com.docker.network.bridge.host_binding_ipv4: "127.0.0.1"}
            attachable: true
            enable_ipv4: true
            enable_ipv6: true
            internal: false
            labels: {env: prod}
            ipam:
              driver: default
              options: {foo: bar}
              config:
                - subnet: 2001:db8::/64
                  ip_range: 2001:db8::/80
                  aux_addresses: {host1: "2001:db8::5"}
            x-notes: front door
          private:
            external: true
          legacy:
            external: {name: old-net}
        volumes:
          data:
          shared:
            external: true
            name: shared-data
        configs:
          nginx:
            file: ./nginx.conf
          inline:
            content: |
              hello ${USER}
            template_driver: golang
          envcfg:
            environment: APP_CONFIG
            labels: [a=b]
          outside:
            external: true
            name: prod-config
        secrets:
          key:
            file: ./key.pem
          vault:
            external: true
          driven:
            driver: vault
            driver_opts: {path: secret/app}
            x-rotated: weekly
        models:
          llm:
            model: ai/smollm2
            context_size: 4096
            runtime_flags: ["--temp", "0.2"]
        x-top: {anything: [1, 2]}
    """))


def test_version_may_be_an_unquoted_number():
    assert_valid({"version": 3.8, "services": {"a": {"image": "alpine"}}})


# -- typical mistakes that must fail ---------------------------------------------------

@pytest.mark.parametrize("data,path", [
    (service(imgae="alpine"), ["services", "app"]),
    ({"services": {"app": {"image": "alpine"}}, "servics": {}}, []),
    ({"services": {"app": {"image": "alpine"}}, "extensions": {}}, []),
    (service(ports={"80": 80}), ["services", "app", "ports"]),
    (service(ports=["http"]), ["services", "app", "ports", 0]),
    (service(ports=["80:abc"]), ["services", "app", "ports", 0]),
    (service(ports=[70000]), ["services", "app", "ports", 0]),
    (service(ports=[{"target": 80, "publish": 8080}]), ["services", "app", "ports", 0]),
    (service(ports=[{"published": 8080}]), ["services", "app", "ports", 0]),
    (service(depends_on={"db": {"condition": "service_healty"}}), ["services", "app", "depends_on"]),
    (service(depends_on={"db": {"conditon": "service_healthy"}}), ["services", "app", "depends_on"]),
    (service(depends_on="db"), ["services", "app", "depends_on"]),
    (service(restart=5), ["services", "app", "restart"]),
    (service(restart=["always"]), ["services", "app", "restart"]),
    (service(restart=True), ["services", "app", "restart"]),
    (service(restart="sometimes"), ["services", "app", "restart"]),
    (service(environment="FOO=bar"), ["services", "app", "environment"]),
    (service(environment={"FOO": {"nested": 1}}), ["services", "app", "environment", "FOO"]),
    (service(command={"run": "x"}), ["services", "app", "command"]),
    (service(read_only="maybe"), ["services", "app", "read_only"]),
    (service(scale="three"), ["services", "app", "scale"]),
    (service(mem_limit="lots"), ["services", "app", "mem_limit"]),
    (service(stop_grace_period="10 seconds"), ["services", "app", "stop_grace_period"]),
    (service(healthcheck={"test": "true", "intervall": "5s"}), ["services", "app", "healthcheck"]),
    (service(volumes=[{"source": "data", "target": "/data"}]), ["services", "app", "volumes", 0]),
    (service(volumes=[{"type": "bind", "source": ".", "target": "/x", "readonly": True}]),
     ["services", "app", "volumes", 0]),
    (service(volumes=[{"type": "nfs", "target": "/x"}]), ["services", "app", "volumes", 0]),
    (service(build={"context": ".", "dockerfil": "Dockerfile"}), ["services", "app", "build"]),
    (service(deploy={"resources": {"limits": {"memory": "1g", "cpu": 1}}}), ["services", "app", "deploy"]),
    (service(deploy={"mode": "everywhere"}), ["services", "app", "deploy", "mode"]),
    (service(develop={"watch": [{"path": ".", "action": "copy"}]}), ["services", "app", "develop"]),
    (service(develop={"watch": [{"action": "sync"}]}), ["services", "app", "develop"]),
    (service(networks={"front": {"alias": ["a"]}}), ["services", "app", "networks"]),
    (service(networks="front"), ["services", "app", "networks"]),
    (service(extends={"file": "x.yaml"}), ["services", "app", "extends"]),
    (service(env_file=[{"required": False}]), ["services", "app", "env_file"]),
    (service(cgroup="shared"), ["services", "app", "cgroup"]),
    (service(pull_policy="sometimes"), ["services", "app", "pull_policy"]),
    (service(ulimits={"nofile": {"soft": 1}}), ["services", "app", "ulimits"]),
    (service(post_start=[{"user": "root"}]), ["services", "app", "post_start", 0]),
    (service(labels=[{"a": "b"}]), ["services", "app", "labels"]),
    ({"services": {"bad name!": {"image": "alpine"}}}, ["services"]),
    ({"services": {"app": "alpine"}}, ["services", "app"]),
    ({"services": {"app": {"image": "a"}}, "networks": {"n": {"drivr": "bridge"}}}, ["networks", "n"]),
    ({"services": {"app": {"image": "a"}}, "volumes": {"v": {"external": "maybe"}}}, ["volumes", "v"]),
    ({"services": {"app": {"image": "a"}}, "configs": {"c": {"path": "./x"}}}, ["configs", "c"]),
    ({"services": {"app": {"image": "a"}}, "secrets": {"s": {"file": "./x", "mode": 400}}}, ["secrets", "s"]),
    ({"services": {"app": {"image": "a"}}, "models": {"m": {"context_size": 10}}}, ["models", "m"]),
    ({"services": {"app": {"image": "a"}}, "include": [{"env_file": ".env"}]}, ["include", 0]),
    ({"services": {"app": {"image": "a"}}, "name": ["x"]}, ["name"]),
])
def test_mistakes_are_rejected(data, path):
    assert_invalid(data, path)


# -- what a user sees (through the loader's error reporting) ---------------------------

def _loader_message(data: dict) -> str:
    from composer.load import validate
    from composer.errors import StackFileError

    with pytest.raises(StackFileError) as info:
        validate.check(data, lambda path: "compose.yaml")
    return str(info.value)


def test_typo_message_names_the_unknown_key():
    msg = _loader_message(service(imgae="alpine"))
    assert "services.app" in msg and "imgae" in msg and "unknown attribute" in msg


def test_nested_typo_message_names_the_unknown_key():
    msg = _loader_message(service(ports=[{"target": 80, "publishd": 8080}]))
    assert "publishd" in msg


def test_misspelt_condition_message_lists_the_choices():
    msg = _loader_message(service(depends_on={"db": {"condition": "service_healty"}}))
    assert "service_healthy" in msg and "depends_on.db.condition" in msg


def test_ports_as_mapping_message_says_list():
    msg = _loader_message(service(ports={"80": 80}))
    assert "ports" in msg and "array" in msg
