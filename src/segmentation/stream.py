"""Adding up the :class:`~segmentation.features.LineSums` of many batches in bounded memory.

The batch step of both engines (:func:`segmentation.engines.summarise_batch`)
turns a batch of lines into sums per (customer, StockCode), (customer, day),
(customer, country) and (StockCode, Description). :class:`SumStore` adds those
up across batches: text codes become codes of vocabularies that grow with the
distinct texts, and the per-customer tables are added up whenever they pass
``memory_bytes`` (until adding up stops paying: batches that share few
customers). When the tables still pass half of it, they are written to disk
in buckets by customer, so that each bucket holds every row of
its customers and can be made into their features on its own. Memory then
grows with the batch and one bucket, not with the lines or the customers'
products.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from segmentation import columns as c
from segmentation import config
from segmentation.features import (
    TABLE_KEYS,
    VOCABULARIES,
    Columns,
    CustomerPieces,
    LineSummaries,
    LineSums,
    coded_tables,
    concat,
    customer_pieces,
    group_reduce,
    nbytes,
    reduce_tables,
    rows,
    stack_tables,
    take,
)

#: The tables keyed by customer (bucketed); the descriptions table stays in memory.
CUSTOMER_TABLES = ("items", "days", "countries")
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


class _Vocabulary:
    """Distinct texts in the order first seen; codes are positions."""

    def __init__(self) -> None:
        self.texts = pd.Index([], dtype="str")

    def ids(self, texts: pd.Index) -> np.ndarray:
        found = self.texts.get_indexer(texts)
        if (found < 0).any():
            self.texts = self.texts.append(pd.Index(texts[found < 0], dtype="str"))
            found = self.texts.get_indexer(texts)
        return found


class SumStore:
    """The sums of every batch added so far; :meth:`pieces` makes them into customers' pieces."""

    def __init__(self, *, memory_bytes: int | None = None, buckets: int | None = None) -> None:
        self._memory_bytes = config.SUMS_MEMORY_BYTES if memory_bytes is None else memory_bytes
        self._buckets = config.SPILL_BUCKETS if buckets is None else buckets
        self._vocabularies = {name: _Vocabulary() for name in VOCABULARIES}
        self._tables: dict[str, list[Columns]] = {table: [] for table in TABLE_KEYS}
        self._empty: dict[str, Columns] = {}
        self._held_bytes = 0
        self._spill: tempfile.TemporaryDirectory | None = None
        self._spills = 0
        self._compacting = True
        self.last_invoice_date: pd.Timestamp | None = None

    def __bool__(self) -> bool:
        return self.last_invoice_date is not None

    @property
    def spilled(self) -> bool:
        return self._spill is not None

    def add(self, sums: LineSums | None) -> None:
        """Add one batch's sums (None: a batch with no line)."""
        if sums is None:
            return
        ids = {name: self._vocabularies[name].ids(getattr(sums, name)) for name in VOCABULARIES}
        for table, frame in coded_tables(sums, ids).items():
            self._tables[table].append(frame)
            self._empty.setdefault(table, take(frame, slice(0)))
            self._held_bytes += nbytes(frame)
        last = sums.last_invoice_date
        self.last_invoice_date = last if self.last_invoice_date is None else max(self.last_invoice_date, last)
        if self._held_bytes > self._memory_bytes:
            if self._compacting:  # worth it while batches share customers
                before = self._held_bytes
                self._compact()
                self._compacting = self._held_bytes < before * 3 // 4
            if self._held_bytes > self._memory_bytes // 2:
                self._write_buckets()

    def _compact(self) -> None:
        """Add up the tables held in memory, key by key."""
        self._held_bytes = 0
        for table, keys in TABLE_KEYS.items():
            pieces = self._tables[table]
            if len(pieces) > 1:
                self._tables[table] = [group_reduce(concat(pieces), keys)]
            self._held_bytes += sum(map(nbytes, self._tables[table]))

    def _write_buckets(self) -> None:
        """Move the per-customer tables held in memory to disk, one file per bucket and table."""
        if self._spill is None:
            self._spill = tempfile.TemporaryDirectory(prefix="segmentation-sums-")
        for table in CUSTOMER_TABLES:
            piece = concat(self._tables[table]) if self._tables[table] else None
            if piece is not None and rows(piece):
                bucket = _bucket(piece[c.CUSTOMER_ID], self._buckets)
                order = np.argsort(bucket, kind="stable")  # each bucket's rows keep their order
                bounds = np.searchsorted(bucket[order], np.arange(self._buckets + 1))
                for number in range(self._buckets):
                    part = take(piece, order[bounds[number]:bounds[number + 1]])
                    if rows(part):
                        np.savez(self._path(table, number, self._spills), **part)
            self._tables[table] = []
        self._spills += 1
        self._held_bytes = sum(map(nbytes, self._tables["descriptions"]))

    def _path(self, table: str, bucket: int, spill: int) -> Path:
        return Path(self._spill.name) / f"{table}-{bucket:03d}-{spill:05d}.npz"

    def _bucket_tables(self) -> Iterator[dict[str, list[Columns]]]:
        """The per-customer tables of a few buckets at a time, about ``memory_bytes`` on disk each
        (all of them at once if none was written)."""
        descriptions = self._tables["descriptions"]
        if self._spill is None:
            yield {**{table: self._tables[table] for table in CUSTOMER_TABLES}, "descriptions": descriptions}
            return
        self._compact()
        self._write_buckets()
        folder = Path(self._spill.name)
        group: list[Path] = []
        for number in range(self._buckets):
            group += sorted(folder.glob(f"*-{number:03d}-*"))
            if group and (number == self._buckets - 1 or sum(path.stat().st_size for path in group)
                          >= self._memory_bytes):
                tables = {table: [_read(path) for path in group if path.name.startswith(f"{table}-")]
                          for table in CUSTOMER_TABLES}
                group = []
                if tables["items"]:
                    yield {**{table: pieces or [self._empty[table]] for table, pieces in tables.items()},
                           "descriptions": descriptions}

    def summaries(self) -> Iterator[LineSummaries]:
        """The :class:`LineSummaries` of each bucket of customers (one, unless sums were written to disk)."""
        vocabularies = {name: vocabulary.texts for name, vocabulary in self._vocabularies.items()}
        for tables in self._bucket_tables():
            yield reduce_tables(tables, vocabularies, last_invoice_date=self.last_invoice_date)

    def pieces(self) -> CustomerPieces | None:
        """The customers' pieces of every batch's lines together; None when no batch had a line."""
        if not self:
            return None
        found = [customer_pieces(summaries) for summaries in self.summaries()]
        try:
            return CustomerPieces(
                customers=stack_tables([piece.customers for piece in found]),
                returns=stack_tables([piece.returns for piece in found]),
                locations=stack_tables([piece.locations for piece in found]),
                top_item_codes=stack_tables([piece.top_item_codes for piece in found]),
                descriptions=found[0].descriptions,
                last_invoice_date=self.last_invoice_date,
            )
        finally:
            self.close()

    def close(self) -> None:
        """Remove the files written to disk."""
        if self._spill is not None:
            self._spill.cleanup()
            self._spill = None


def _read(path: Path) -> Columns:
    with np.load(path) as stored:
        return {name: stored[name] for name in stored.files}


def _bucket(customers: np.ndarray, buckets: int) -> np.ndarray:
    """Each customer's bucket: a multiplicative hash of the ID, so consecutive IDs spread."""
    return ((customers.astype("uint64") * _GOLDEN) >> np.uint64(40)) % np.uint64(buckets)


