"""Reading text-classification data: every source becomes a ``Table``, and one ``Input`` checks it.

Sources: CSV/TSV, JSON/JSON lines (``field`` picks a nested list), Parquet, pandas DataFrames,
Python lists and Hugging Face ``datasets.Dataset`` objects.

Rules for the data, the same for every source (rows are counted from 0, header excluded):
- a missing column raises, naming the columns that exist;
- a missing text or label (None / NaN; in CSV files an empty field) raises, naming the file and row;
- an empty string ``""`` is a valid text: it is tokenized to the special tokens only;
- labels in one column must share a type (all names or all indices), else the first odd row is named;
- labels in val/test data must appear in the training data (checked by the target formatter).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flash.core.data import INPUT, METADATA, TARGET, Input
from flash.core.targets import TargetFormatter
from flash.errors import DataError, MissingDependencyError, install_hint, require


@dataclass
class Table:
    """Named columns of equal length from one source; ``name`` is how errors point at it."""

    name: str
    columns: list[str]
    column: Callable[[str], list]  # column name -> its values
    num_rows: int


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


# ---------------------------------------------------------------------------------------- readers
def _check_file(path: Any) -> Path:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"File not found: '{path}'. Check the path.")
    return path


def _decode_error(path: Path, encoding: str, err: UnicodeDecodeError) -> DataError:
    return DataError(
        f"Cannot decode '{path}' as {encoding}: byte 0x{err.object[err.start]:02x} at position {err.start} is invalid. "
        f"Save the file as UTF-8, or pass the file's encoding, e.g. encoding='latin-1'. Received: encoding={encoding!r}"
    )


def _python_encoding(encoding: str) -> str:
    """UTF-8 reads with or without a byte-order mark."""
    return "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding


def table_from_data_frame(df: Any, name: str) -> Table:
    return Table(name, [str(c) for c in df.columns], lambda c: df[c].tolist(), len(df))


def read_csv(path: str | os.PathLike, *, input_field: str, encoding: str = "utf-8") -> Table:
    """A CSV (``.tsv``: tab-separated) file; only empty fields are missing values ("NA" stays text)."""
    pd = require("pandas", "data", purpose="reading CSV files")
    path = _check_file(path)
    try:
        df = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",", encoding=_python_encoding(encoding),
                         keep_default_na=False, na_values=[""], dtype={input_field: str})
    except UnicodeDecodeError as err:
        raise _decode_error(path, encoding, err) from err
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise DataError(f"Cannot parse '{path}' as CSV: {str(err).strip()}") from err
    return table_from_data_frame(df, f"'{path}'")


def read_json(path: str | os.PathLike, *, field: str | None = None, encoding: str = "utf-8") -> Table:
    """A JSON file (a list of records, ``{column: [values]}``, or either under ``field``) or JSON lines."""
    path = _check_file(path)
    try:
        text = path.read_text(encoding=_python_encoding(encoding))
    except UnicodeDecodeError as err:
        raise _decode_error(path, encoding, err) from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = _json_lines(text, path)
    if field is not None:
        if not isinstance(data, dict) or field not in data:
            keys = sorted(data) if isinstance(data, dict) else []
            raise DataError(f"'{path}' has no field {field!r}; its top-level keys are {keys}. Received: field={field!r}")
        data = data[field]
    return table_from_records(data, f"'{path}'")


def _json_lines(text: str, path: Path) -> list:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise DataError(f"Cannot parse '{path}' line {number} as JSON (nor the whole file): {err.msg}.") from err
    return records


def table_from_records(data: Any, name: str) -> Table:
    """Records (a list of dicts, missing keys are missing values) or columns (a dict of equal-length lists)."""
    if isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
        lengths = {len(v) for v in data.values()}
        if len(lengths) > 1:
            raise DataError(f"The columns of {name} have different lengths {sorted(lengths)}.")
        return Table(name, list(data), lambda c: data[c], lengths.pop() if lengths else 0)
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DataError(f"{name} must hold a list of records ({{column: value}}) or a dict of columns; "
                        f"found {type(data).__name__}. Use field= to point at the records inside a nested file.")
    columns = list(dict.fromkeys(key for record in data for key in record))
    return Table(name, columns, lambda c: [record.get(c) for record in data], len(data))


def read_parquet(path: str | os.PathLike) -> Table:
    pd = require("pandas", "data", purpose="reading Parquet files")
    path = _check_file(path)
    try:
        df = pd.read_parquet(path)
    except ImportError as err:
        raise MissingDependencyError(f"Reading '{path}' needs pyarrow. Install it with: {install_hint('data')}") from err
    except Exception as err:  # pyarrow raises its own error types for corrupt files
        raise DataError(f"Cannot read '{path}' as Parquet: {str(err).splitlines()[0]}") from err
    return table_from_data_frame(df, f"'{path}'")


def table_from_hf_dataset(dataset: Any, name: str) -> Table:
    return Table(name, list(dataset.column_names), lambda c: list(dataset[c]), len(dataset))


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
    """Samples ``{"input": text, "target": label, "metadata": {"row": i}}`` from a :class:`Table`.

    ``target_fields``: one column (a label, a list of labels, or ``"a,b"``), several 0/1 columns
    (multi-label), or None (no targets, e.g. predict data). Targets are not read for predict data.
    """

    def load_data(self, table: Table, *, input_field: str, target_fields: Sequence[str] | None = None) -> list[dict]:
        self.source = table.name
        fields = list(target_fields or []) if self.stage != "predict" else []
        self._check_columns(table, [input_field, *fields])
        texts = table.column(input_field)
        for row, text in enumerate(texts):
            if _missing(text):
                raise DataError(f"Missing text in {table.name} row {row} (column {input_field!r}). Fill it in or drop the row.")
            if not isinstance(text, str):
                raise DataError(f"Text in {table.name} row {row} (column {input_field!r}) is {type(text).__name__} "
                                f"{text!r}, not a string. Convert the column to text.")
        targets = self._targets(table, fields) if fields else [None] * len(texts)
        return [{INPUT: text, TARGET: target, METADATA: {"row": row}} for row, (text, target) in enumerate(zip(texts, targets))]

    def _check_columns(self, table: Table, wanted: list[str]) -> None:
        absent = [c for c in wanted if c not in table.columns]
        if absent:
            raise DataError(f"Column {absent[0]!r} not found in {table.name}. Its columns are {table.columns}. "
                            "Pass input_field= / target_fields= with existing column names.")

    def _targets(self, table: Table, fields: list[str]) -> list[Any]:
        columns = {field: [_plain(v) for v in table.column(field)] for field in fields}
        for field, values in columns.items():
            for row, value in enumerate(values):
                if _missing(value):
                    raise DataError(f"Missing label in {table.name} row {row} (column {field!r}). Fill it in or drop the row.")
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

    def format_targets(self, formatter: TargetFormatter) -> None:
        """As ``Input.format_targets``, with errors naming the file and row."""
        self.target_formatter = formatter
        for sample in self.samples:
            if sample.get(TARGET) is not None:
                sample[TARGET] = formatter(sample[TARGET], where=f"{self.source} row {sample[METADATA]['row']}")


def _plain(value: Any) -> Any:
    """numpy scalars/arrays -> Python values; bools -> 0/1."""
    if hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()
    return int(value) if isinstance(value, bool) else value
