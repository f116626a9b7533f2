"""What crosses every boundary: a cell (`cells.Cell`, its key and content hash), its record
(`record.Record`, worker -> executor -> driver -> store) and how a failure becomes a status and a
one-line reason (`reasons`)."""

from bench.records.cells import Cell, content_hash
from bench.records.record import STATUSES, Record

__all__ = ["STATUSES", "Cell", "Record", "content_hash"]
