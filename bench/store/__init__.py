"""The store: the only code that opens the SQLite database and runs queries.

`database` holds the schema and `Store`, the driver's writer (records, runs, cell claims);
`queries` holds what every reader (report, compare, history, plots, exports) asks. Nothing
outside this package imports sqlite3 (tests/test_architecture.py checks it).
"""

from bench.store.database import (
    RESUMABLE,
    SCHEMA_VERSION,
    TABLES,
    Store,
    StoreError,
    check_readable,
    open_readonly,
)
from bench.store.queries import (
    LATEST_PER_CELL,
    cell_keys,
    component_metrics,
    distinct_values,
    incomplete_runs,
    latest_record_for_key,
    latest_record_ids,
    latest_records,
    load,
    load_arrays,
    metric_history,
    records_with_environment,
    run_ids,
    run_records,
    run_summaries,
    runs,
    scalar_metrics,
    timing_rows,
    timing_samples,
    traces,
)

__all__ = [
    "LATEST_PER_CELL",
    "RESUMABLE",
    "SCHEMA_VERSION",
    "TABLES",
    "Store",
    "StoreError",
    "cell_keys",
    "check_readable",
    "component_metrics",
    "distinct_values",
    "incomplete_runs",
    "latest_record_for_key",
    "latest_record_ids",
    "latest_records",
    "load",
    "load_arrays",
    "metric_history",
    "open_readonly",
    "records_with_environment",
    "run_ids",
    "run_records",
    "run_summaries",
    "runs",
    "scalar_metrics",
    "timing_rows",
    "timing_samples",
    "traces",
]
