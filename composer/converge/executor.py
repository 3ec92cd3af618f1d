"""Running a plan: each operation starts as soon as the ones it depends on have finished, with bounded
parallelism. A failed operation fails the operations that depend on it (saying why); the others go on."""
from __future__ import annotations

from typing import Awaitable, Callable

import anyio

from composer.converge.plan import Operation, Plan

Handler = Callable[[Operation], Awaitable[None]]


class DependencyFailed(Exception):
    pass


class PlanFailed(Exception):
    """Some operations failed: *errors* maps each failed operation to its error, first failure first."""

    def __init__(self, errors: list[tuple[Operation, BaseException]]):
        self.errors = errors
        super().__init__(str(errors[0][1]))


async def execute(plan: Plan, handler: Handler, limit: int = 8) -> None:
    limiter = anyio.CapacityLimiter(limit)
    done = {key: anyio.Event() for key in plan.ops}
    failed: dict[str, BaseException] = {}
    errors: list[tuple[Operation, BaseException]] = []

    async def run(op: Operation) -> None:
        try:
            for dep in op.deps:
                if dep in done:
                    await done[dep].wait()
            bad = sorted(d for d in op.deps if d in failed)
            if bad:
                failed[op.key] = DependencyFailed(f"{op.kind.lower()} {op.target} was not {op.action}ed: "
                                                  f"{failed[bad[0]]}")
                return
            async with limiter:
                await handler(op)
        except anyio.get_cancelled_exc_class():
            raise
        except Exception as e:  # noqa: BLE001 - recorded and reported with the operation it belongs to
            failed[op.key] = e
            errors.append((op, e))
        finally:
            done[op.key].set()

    async with anyio.create_task_group() as tg:
        for op in plan.order():
            tg.start_soon(run, op)
    if errors:
        raise PlanFailed(errors)
