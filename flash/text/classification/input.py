"""Text-classification data: every source becomes a :class:`~flash.core.tables.Table`, and one ``Input`` checks it.

Sources (read by :mod:`flash.core.tables`): CSV/TSV, JSON/JSON lines (``field`` picks a nested list),
Parquet, pandas DataFrames, Python lists and Hugging Face ``datasets.Dataset`` objects.

Rules for the data, the same for every source (rows are counted from 0, header excluded):
- a missing column raises, naming the columns that exist;
- a missing text or label (None / NaN; in CSV files an empty field) raises, naming the file and row;
- an empty string ``""`` is a valid text: it is tokenized to the special tokens only;
- labels in one column must share a type (all names or all indices), else the first odd row is named;
- labels in val/test data must appear in the training data (checked by the target formatter).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flash.core.data import INPUT, METADATA, TARGET, Input, SampleColumns, StreamInput
from flash.core.nested import to_plain
from flash.core.tables import Table, is_missing
from flash.errors import DataError


def table_from_lists(texts: Sequence[Any], targets: Sequence[Any] | None, name: str) -> Table:
    if isinstance(texts, str):
        raise DataError(f"{name} must be a list of texts, not one string. Wrap it: [{texts[:30]!r}].")
    texts = list(texts)
    columns = {"text": texts}
    if targets is not None:
        targets = list(targets)
        if len(targets) != len(texts):
            raise DataError(f"{name}: {len(texts)} texts but {len(targets)} targets; give one target per text.")
        columns["target"] = targets
    return Table(name, list(columns), lambda c: columns[c], len(texts))


# ---------------------------------------------------------------------------------------- the Input
def _kind(value: Any) -> str:
    if isinstance(value, str):
        return "str"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, bool) or (isinstance(value, int)) or (isinstance(value, float) and value.is_integer()):
        return "int"
    return type(value).__name__


class TextClassificationInput(Input):
    """Samples ``{"input": text, "target": label, "metadata": {"row": i}}`` from a :class:`Table`, kept as columns.

    ``target_fields``: one column (a label, a list of labels, or ``"a,b"``), several 0/1 columns
    (multi-label), or None (no targets, e.g. predict data). Targets are not read for predict data.
    """

    def load_data(self, table: Table, *, input_field: str,
                  target_fields: Sequence[str] | None = None) -> SampleColumns:
        self.source = table.name
        fields = list(target_fields or []) if self.stage != "predict" else []
        self._check_columns(table, [input_field, *fields])
        texts = table.column(input_field)
        if table.column_kind(input_field) != "str" and not all(isinstance(text, str) for text in texts):
            _check_texts(table, input_field, texts)
        targets = self._targets(table, fields) if fields else None
        return SampleColumns(texts, targets, metadata={"row": range(len(texts))})

    def _check_columns(self, table: Table, wanted: list[str]) -> None:
        absent = [c for c in wanted if c not in table.columns]
        if absent:
            raise DataError(f"Column {absent[0]!r} not found in {table.name}. Its columns are {table.columns}. "
                            "Pass input_field= / target_fields= with existing column names.")

    def _targets(self, table: Table, fields: list[str]) -> list[Any]:
        if len(fields) == 1:
            if table.column_kind(fields[0]) in ("str", "int"):  # plain names or indices: none missing or to convert
                return table.column(fields[0])
            values = table.column(fields[0])
            if set(map(type, values)) in ({str}, {int}):
                return values
        columns = {field: [_label(v) for v in table.column(field)] for field in fields}
        for field, values in columns.items():
            for row, value in enumerate(values):
                if is_missing(value):
                    raise DataError(f"Missing label in {table.name} row {row} (column {field!r}). "
                                    "Fill it in or drop the row.")
            kinds = [_kind(v) for v in values]
            odd = next((row for row, kind in enumerate(kinds) if kind != kinds[0]), None)
            if odd is not None:
                raise DataError(
                    f"Labels in {table.name} column {field!r} mix types: row 0 is {kinds[0]} {values[0]!r}, "
                    f"row {odd} is {kinds[odd]} {values[odd]!r}. Use one type: all class names or all indices."
                )
        if len(fields) == 1:
            return columns[fields[0]]
        for field, values in columns.items():
            if any(v not in (0, 1) for v in values):
                bad = next(row for row, v in enumerate(values) if v not in (0, 1))
                raise DataError(f"Several target columns make a multi-label target of 0/1 flags, but {table.name} "
                                f"row {bad} has {values[bad]!r} in column {field!r}.")
        return [[int(columns[f][row]) for f in fields] for row in range(table.num_rows)]

    def where(self, index: int) -> str:
        """The file (or data frame / list) and row of sample ``index``, for an error about it."""
        return f"{self.source} row {index}"


def _check_texts(table: Table, input_field: str, texts: Sequence[Any]) -> None:
    """Raise for the first missing or non-string text, naming the source, row and column."""
    for row, text in enumerate(texts):
        if is_missing(text):
            raise DataError(f"Missing text in {table.name} row {row} (column {input_field!r}). "
                            "Fill it in or drop the row.")
        if not isinstance(text, str):
            raise DataError(f"Text in {table.name} row {row} (column {input_field!r}) is {type(text).__name__} "
                            f"{text!r}, not a string. Convert the column to text.")


class TextStreamInput(StreamInput):
    """A stream of texts: a Hugging Face ``IterableDataset`` (``input_field`` / one ``target_field`` column), or an
    iterable of texts or ``(text, target)`` pairs (a generator given to ``from_lists``)."""

    def __init__(self, stage: str, source: Any, *, input_field: str = "text", target_field: str | None = None,
                 shuffle_buffer: int = 1000, seed: int = 0) -> None:
        super().__init__(stage, source, shuffle_buffer=shuffle_buffer, seed=seed)
        self.input_field, self.target_field = input_field, target_field
        self.has_targets = self.has_targets and target_field is not None

    def to_sample(self, item: Any, index: int) -> dict:
        target = None
        if isinstance(item, dict):
            if self.input_field not in item:
                raise DataError(f"Item {index} of the {self.stage} stream has no {self.input_field!r} field; its "
                                f"fields are {sorted(item)}. Pass input_field= with an existing field.")
            text = item[self.input_field]
            target = item.get(self.target_field) if self.target_field else None
        elif isinstance(item, tuple) and len(item) == 2:
            text, target = item
        else:
            text = item
        if not isinstance(text, str):
            raise DataError(f"Text of item {index} of the {self.stage} stream is {type(text).__name__} {text!r}, "
                            "not a string. Convert it to text.")
        return {INPUT: text, TARGET: _label(target) if self.has_targets else None, METADATA: {"row": index}}


def _label(value: Any) -> Any:
    """numpy/torch scalars and arrays -> Python values; bools -> 0/1."""
    value = to_plain(value)
    return int(value) if isinstance(value, bool) else value
