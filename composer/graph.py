"""The service dependency graph: depends_on edges (links, network_mode/volumes_from `service:` are
among them after normalization), cycle detection, ordering, and pictures of it (text, DOT, Mermaid)."""
from __future__ import annotations

from composer.errors import StackFileError
from composer.model import Project


class Graph:
    def __init__(self, project: Project):
        self.project = project
        self.deps: dict[str, set[str]] = {name: set(svc.depends_on) for name, svc in project.services.items()}
        self._check_cycles()

    def _check_cycles(self) -> None:
        state: dict[str, int] = {}  # 1 visiting, 2 done
        stack: list[str] = []

        def visit(node: str) -> None:
            state[node] = 1
            stack.append(node)
            for dep in sorted(self.deps.get(node, ())):
                if state.get(dep) == 1:
                    cycle = stack[stack.index(dep):] + [dep]
                    raise StackFileError("dependency cycle between services: " + " -> ".join(cycle))
                if dep not in state:
                    visit(dep)
            stack.pop()
            state[node] = 2

        for node in sorted(self.deps):
            if node not in state:
                visit(node)

    def dependents(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {n: set() for n in self.deps}
        for node, deps in self.deps.items():
            for dep in deps:
                out.setdefault(dep, set()).add(node)
        return out

    def with_dependencies(self, names: list[str]) -> set[str]:
        """The named services and everything they depend on, transitively."""
        out: set[str] = set()
        todo = list(names)
        while todo:
            n = todo.pop()
            if n in out:
                continue
            out.add(n)
            todo.extend(self.deps.get(n, ()))
        return out

    def order(self) -> list[str]:
        """Dependencies first; ties broken by name for stable output."""
        done: list[str] = []
        seen: set[str] = set()

        def visit(n: str) -> None:
            if n in seen:
                return
            seen.add(n)
            for d in sorted(self.deps.get(n, ())):
                visit(d)
            done.append(n)

        for n in sorted(self.deps):
            visit(n)
        return done


# -- pictures ---------------------------------------------------------------------------------

def _edges(graph: Graph) -> list[tuple[str, str, str]]:
    """(service, dependency, label) in start order; the label names a condition other than started,
    and `optional` when the dependency is not required."""
    out = []
    for name in graph.order():
        svc = graph.project.services[name]
        for dep in sorted(svc.depends_on):
            d = svc.depends_on[dep]
            words = [] if d.condition == "service_started" else [d.condition.removeprefix("service_")]
            if not d.required:
                words.append("optional")
            out.append((name, dep, ", ".join(words)))
    return out


def render_text(graph: Graph) -> str:
    """Services in start order, each with what it waits for."""
    lines = []
    edges = _edges(graph)
    for name in graph.order():
        mine = [(dep, label) for src, dep, label in edges if src == name]
        if not mine:
            lines.append(name)
            continue
        lines.append(f"{name} <- " + ", ".join(f"{dep} ({label})" if label else dep for dep, label in mine))
    return "\n".join(lines) + ("\n" if lines else "")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(graph: Graph) -> str:
    """Graphviz DOT: an arrow from each service to what it depends on."""
    lines = [f"digraph {_quote(graph.project.name)} {{", "  rankdir=LR;", "  node [shape=box];"]
    for name in graph.order():
        lines.append(f"  {_quote(name)};")
    for src, dep, label in _edges(graph):
        attrs = f" [label={_quote(label)}]" if label else ""
        style = " [style=dashed]" if dep not in graph.project.services else ""
        lines.append(f"  {_quote(src)} -> {_quote(dep)}{attrs}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_mermaid(graph: Graph) -> str:
    """A Mermaid flowchart (GitHub and many wikis draw it)."""
    ids: dict[str, str] = {}

    def node(name: str) -> str:
        if name not in ids:
            ids[name] = f"s{len(ids)}"
        return ids[name]

    lines = ["flowchart LR"]
    for name in graph.order():
        lines.append(f"  {node(name)}[{_quote(name)}]")
    for src, dep, label in _edges(graph):
        if dep not in ids:
            lines.append(f"  {node(dep)}[{_quote(dep)}]")
        arrow = f"-->|{label}|" if label else "-->"
        lines.append(f"  {node(src)} {arrow} {node(dep)}")
    return "\n".join(lines) + "\n"
