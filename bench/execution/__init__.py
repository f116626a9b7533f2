"""Running a grid: plan the cells, hand them to an executor, run each in a worker process, and
give its record to the store.

`plan` resolves names into cells, `grid_config` reads grid files, `driver` runs a plan, `executors`
(a local pool) and `dask_executor` run cells, `zygote` forks workers with imports paid once,
`worker` fits and scores one cell, `lifecycle` and `claims` handle process death and cells a live
run holds, `phases` splits a cell's wall time.
"""

__all__ = [
    "claims",
    "dask_executor",
    "driver",
    "executors",
    "grid_config",
    "lifecycle",
    "phases",
    "plan",
    "worker",
    "zygote",
]
