"""Put on PYTHONPATH by tests/integration/test_crash.py (never by production code): with
CRASHPOINT_OPERATION=N, the composer process SIGKILLs itself as the Nth operation of a plan begins,
the moment the executor hands it to its handler."""
import os

if os.environ.get("CRASHPOINT_OPERATION"):
    import signal

    from composer.converge import executor

    _kill_at = int(os.environ["CRASHPOINT_OPERATION"])
    _execute = executor.execute

    async def execute(plan, handler, limit=8):
        begun = 0

        async def crashing(op):
            nonlocal begun
            begun += 1
            if begun == _kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return await handler(op)

        return await _execute(plan, crashing, limit)

    executor.execute = execute
