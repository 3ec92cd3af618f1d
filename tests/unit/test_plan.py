"""The reconciler's decisions: what a plan does to a given observed state, and why."""
import pytest

from composer import labels
from composer.converge import containerspec
from composer.errors import ComposerError
from composer.load.loader import LoadOptions, load
from composer.converge.plan import Observed, UpOptions, plan_down, plan_start, plan_up
from engine.api import ContainerInfo

STACK = """
name: demo
services:
  db:
    image: base
  api:
    image: base
    depends_on:
      db: {condition: service_healthy, restart: true}
  web:
    image: base
    depends_on: [api]
  job:
    image: base
    depends_on:
      db: {condition: service_completed_successfully, required: false}
"""


def project(tmp_path, text=STACK):
    (tmp_path / "compose.yaml").write_text(text)
    return load(LoadOptions(environ={}), cwd=str(tmp_path))


def running(proj, service, number=1, status="running", image_id="sha256:img", **label_changes):
    spec = containerspec.container_spec(proj, proj.services[service], number)
    labels = {**spec.labels, **label_changes}
    return ContainerInfo(id=f"{service}{number}" + "0" * 60, name=spec.name, image=spec.image, image_id=image_id,
                         labels=labels, status=status, pid=1, exit_code=0, created="", started_at="",
                         finished_at="", ports=[], networks={}, spec=spec)


def observed(proj, containers, networks=("demo_default",)):
    return Observed(containers, set(networks), set(), {"base": "sha256:img"})


def actions(plan):
    return [(op.action, op.target) for op in plan.order()]


def test_fresh_stack_creates_network_then_containers_in_dependency_order(tmp_path):
    proj = project(tmp_path)
    plan = plan_up(proj, observed(proj, [], networks=()), UpOptions())
    order = actions(plan)
    assert order[0] == ("create", "demo_default")
    starts = [t for a, t in order if a == "start"]
    assert starts.index("demo-db-1") < starts.index("demo-api-1") < starts.index("demo-web-1")
    # api waits for db to be healthy; job for db to complete, but only as an optional dependency
    api_start = plan.ops["start:demo-api-1"]
    assert "wait_healthy:db" in api_start.deps
    assert plan.ops["wait_completed:db"].params["required"] is False
    assert all(op.reason for op in plan.ops.values())


def test_up_to_date_stack_plans_nothing(tmp_path):
    proj = project(tmp_path)
    have = [running(proj, s) for s in proj.services]
    plan = plan_up(proj, observed(proj, have), UpOptions())
    assert not plan.ops
    assert "nothing to do" in plan_up(proj, observed(proj, have), UpOptions(services=["db"])).render()


def test_changed_config_recreates_it_and_restart_true_dependents_only(tmp_path):
    proj = project(tmp_path)
    have = [running(proj, s) for s in proj.services]
    have[0].labels[labels.LABEL_HASH] = "old"  # db's configuration changed since it was made
    plan = plan_up(proj, observed(proj, have), UpOptions())
    recreated = {op.target: op.reason for op in plan.ops.values() if op.action == "recreate"}
    assert recreated["demo-db-1"] == "its configuration changed"
    assert "dependency db was recreated" in recreated["demo-api-1"]
    assert "demo-web-1" not in recreated and "demo-job-1" not in recreated


def test_changed_image_recreates(tmp_path):
    proj = project(tmp_path)
    have = [running(proj, s, image_id="sha256:old" if s == "web" else "sha256:img") for s in proj.services]
    plan = plan_up(proj, observed(proj, have), UpOptions())
    assert {op.target: op.reason for op in plan.ops.values() if op.action == "recreate"} == \
        {"demo-web-1": "its image changed"}


def test_no_recreate_and_force_recreate(tmp_path):
    proj = project(tmp_path)
    have = [running(proj, s, **{labels.LABEL_HASH: "old"}) for s in proj.services]
    assert not [op for op in plan_up(proj, observed(proj, have), UpOptions(no_recreate=True)).ops.values()
                if op.action == "recreate"]
    fresh = [running(proj, s) for s in proj.services]
    forced = plan_up(proj, observed(proj, fresh), UpOptions(services=["web"], force_recreate=True))
    assert {op.target for op in forced.ops.values() if op.action == "recreate"} == {"demo-web-1"}
    with_deps = plan_up(proj, observed(proj, fresh), UpOptions(services=["web"], force_recreate=True,
                                                              always_recreate_deps=True))
    assert {op.target for op in with_deps.ops.values() if op.action == "recreate"} == \
        {"demo-web-1", "demo-api-1", "demo-db-1"}


def test_stopped_container_is_started_not_recreated(tmp_path):
    proj = project(tmp_path)
    have = [running(proj, s, status="exited" if s == "web" else "running") for s in proj.services]
    plan = plan_up(proj, observed(proj, have), UpOptions())
    assert [(a, t) for a, t in actions(plan) if a in ("start", "recreate", "create")] == [("start", "demo-web-1")]


def test_scale_up_and_down_removes_highest_numbers_first(tmp_path):
    proj = project(tmp_path)
    have = [running(proj, s) for s in proj.services]
    up = plan_up(proj, observed(proj, have), UpOptions(scale={"web": 3}))
    assert [t for a, t in actions(up) if a == "create"] == ["demo-web-2", "demo-web-3"]
    have += [running(proj, "web", 2), running(proj, "web", 3)]
    down = plan_up(proj, observed(proj, have), UpOptions(scale={"web": 1}))
    assert [t for a, t in actions(down) if a == "remove"] == ["demo-web-3", "demo-web-2"]


def test_replicas_from_the_file_and_container_name_conflict(tmp_path):
    proj = project(tmp_path, "name: demo\nservices:\n  w:\n    image: base\n    deploy: {replicas: 2}\n")
    plan = plan_up(proj, observed(proj, []), UpOptions())
    assert [t for a, t in actions(plan) if a == "create"] == ["demo-w-1", "demo-w-2"]
    proj = project(tmp_path, "name: demo\nservices:\n  w:\n    image: base\n    container_name: one\n")
    with pytest.raises(ComposerError, match="container_name 'one' cannot be used with 2 replicas"):
        plan_up(proj, observed(proj, []), UpOptions(scale={"w": 2}))


def test_orphans_warned_or_removed(tmp_path):
    proj = project(tmp_path)
    have = [running(proj, s) for s in proj.services]
    ghost = running(proj, "db")
    ghost.labels[labels.LABEL_SERVICE] = "gone"
    ghost.name, ghost.id = "demo-gone-1", "g" * 64
    plan = plan_up(proj, observed(proj, have + [ghost]), UpOptions())
    assert plan.warnings and "demo-gone-1" in plan.warnings[0] and "--remove-orphans" in plan.warnings[0]
    plan = plan_up(proj, observed(proj, have + [ghost]), UpOptions(remove_orphans=True))
    assert ("remove", "demo-gone-1") in actions(plan)


def test_no_deps_and_named_services(tmp_path):
    proj = project(tmp_path)
    plan = plan_up(proj, observed(proj, []), UpOptions(services=["web"]))
    assert {t for a, t in actions(plan) if a == "create" and t.startswith("demo-")} == \
        {"demo-web-1", "demo-api-1", "demo-db-1"}
    plan = plan_up(proj, observed(proj, []), UpOptions(services=["web"], no_deps=True))
    assert {t for a, t in actions(plan) if a == "create" and t.startswith("demo-")} == {"demo-web-1"}


def test_down_removes_dependents_before_their_dependencies(tmp_path):
    proj = project(tmp_path)
    have = [running(proj, s) for s in proj.services]
    plan = plan_down(proj, observed(proj, have), False, True, ["demo_default"], ["demo_data"], [])
    order = [t for _, t in actions(plan)]
    assert order.index("demo-web-1") < order.index("demo-api-1") < order.index("demo-db-1")
    assert order[-2:] == ["demo_default", "demo_data"]


def test_down_takes_containers_of_services_whose_profile_is_not_enabled(tmp_path):
    text = STACK + "  debug:\n    image: base\n    profiles: [debug]\n"
    proj = project(tmp_path, text)
    assert "debug" not in proj.services and proj.disabled == ["debug"]
    with_debug = load(LoadOptions(environ={}, profiles=["debug"]), cwd=str(tmp_path))
    have = [running(proj, s) for s in proj.services] + [running(with_debug, "debug")]
    plan = plan_down(proj, observed(proj, have), False, False, ["demo_default"], [], [])
    assert not plan.warnings
    assert ("remove", "demo-debug-1") in actions(plan)
    assert plan.ops["network:demo_default"].deps >= {op.key for op in plan.ops.values() if op.kind == "Container"}


def test_start_waits_for_the_conditions_of_depends_on(tmp_path):
    proj = project(tmp_path)
    stopped = [running(proj, s, status="exited") for s in proj.services]
    plan = plan_start(proj, stopped)
    api, job, web = (plan.ops[f"start:demo-{s}-1"] for s in ("api", "job", "web"))
    assert "wait_healthy:db" in api.deps and plan.ops["wait_healthy:db"].deps == {"start:demo-db-1"}
    assert "wait_completed:db" in job.deps and plan.ops["wait_completed:db"].params["required"] is False
    assert web.deps == {"start:demo-api-1"}  # service_started: after api's start
    # `start web`: only web starts, after api is running (its own start not planned, so no wait)
    plan = plan_start(proj, stopped, ["web"])
    assert list(plan.ops) == ["start:demo-web-1"] and plan.ops["start:demo-web-1"].deps == set()
    # a running dependency is not started again, but still waited for
    plan = plan_start(proj, [running(proj, "db")] + [c for c in stopped if "db" not in c.name], ["api"])
    assert plan.ops["start:demo-api-1"].deps == {"wait_healthy:db"} and plan.ops["wait_healthy:db"].deps == set()
