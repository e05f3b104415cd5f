"""``make bench``: apilink against hand-written baselines on loopback APIs (issue 8).

Modules:
    users: the synthetic users the source serves, computed from their id, and which are valid.
    servers: the source and target APIs (aiohttp.web), each in its own process.
    baselines: bare aiohttp (one POST per record) and bare httpx (batches), same rules and mapping.
    configs: the sync configs apilink runs with.
    processes: subprocesses timed with their peak RSS, and the Prefect server.
    run: the benchmark itself (``python -m bench.run --scale 0.1``).
    profile: cProfile / tracemalloc of an in-process apilink run.
"""
