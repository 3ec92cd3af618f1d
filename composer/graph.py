"""The service dependency graph: depends_on edges, cycle detection, ordering."""
from __future__ import annotations

from composer.errors import StackFileError
from composer.model import Project


class Graph:
    def __init__(self, project: Project):
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
