"""Tables: the one way flash reads CSV/TSV, JSON/JSON lines and Parquet files, data frames, records and
Hugging Face datasets into named columns, and the one way it recognises a Hugging Face dataset.

A :class:`Table` is named columns of equal length; ``Table.name`` is how errors point at the source
(``"'data/train.csv'"``, ``"the train data frame"``). Task inputs check the columns they need.

Example:
    >>> table = table_from_records([{"text": "good", "label": 1}, {"text": "bad", "label": 0}], "my rows")
    >>> table.columns, table.column("label"), table.num_rows
    (['text', 'label'], [1, 0], 2)
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from flash.errors import ConfigurationError, DataError, MissingDependencyError, install_hint, require

TableFormat = Literal["csv", "json", "parquet"]
_SUFFIX_FORMATS: dict[str, TableFormat] = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".json": "json",
                                           ".jsonl": "json", ".parquet": "parquet"}
_FORMAT_NAMES = {"csv": "CSV", "json": "JSON", "parquet": "Parquet"}


@dataclass
class Table:
    """Named columns of equal length from one source; ``name`` is how errors point at it."""

    name: str
    columns: list[str]
    column: Callable[[str], list]  # column name -> its values
    num_rows: int
    kind: Callable[[str], str | None] = lambda column: None  # "str"/"int": every value is one, none missing

    def column_kind(self, column: str) -> str | None:
        """``"str"`` or ``"int"`` when the source's column type says every value is one (none missing), else None.

        Lets a reader skip a check per row when the column's type already answers it.
        """
        return self.kind(column)


def is_missing(value: Any) -> bool:
    """None or NaN: an empty cell."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def table_format(path: str | os.PathLike, *, default: TableFormat | None = None) -> TableFormat:
    """The format a file's suffix names (``.csv``/``.tsv``/``.txt``, ``.json``/``.jsonl``, ``.parquet``)."""
    found = _SUFFIX_FORMATS.get(Path(path).suffix.lower(), default)
    if found is None:
        raise ConfigurationError(f"Cannot tell the table format of '{path}' from its suffix; use a .csv, .tsv, "
                                 f".json, .jsonl or .parquet file. Received: path={os.fspath(path)!r}")
    return found


def read_table(path: str | os.PathLike, *, format: TableFormat | None = None, field: str | None = None,
               encoding: str = "utf-8", text_columns: Sequence[str] = (), empty_is_missing: bool = True) -> Table:
    """Read a CSV/TSV, JSON (records, columns, or JSON lines) or Parquet file into a :class:`Table`.

    Args:
        path: the file. ``format``: ``"csv"`` (``.tsv``: tab-separated), ``"json"`` or ``"parquet"``;
            None reads it from the suffix.
        field: JSON only: the top-level key holding the records.
        encoding: text encoding; UTF-8 reads with or without a byte-order mark.
        text_columns: CSV columns kept as text (``"007"`` stays ``"007"``).
        empty_is_missing: CSV: an empty field is a missing value (NaN); else the empty string.
            Only empty fields are missing: ``"NA"`` stays text.

    Example:
        >>> read_table("train.csv", text_columns=["review"]).columns  # doctest: +SKIP
        ['review', 'label']
    """
    format = format or table_format(path)
    path = Path(path)
    if not path.is_file():
        raise DataError(f"File not found: {_FORMAT_NAMES[format]} file '{path}' does not exist. Check the path.")
    if format == "csv":
        return _read_csv(path, encoding=encoding, text_columns=text_columns, empty_is_missing=empty_is_missing)
    if format == "json":
        return _read_json(path, field=field, encoding=encoding)
    return _read_parquet(path)


def _python_encoding(encoding: str) -> str:
    """UTF-8 reads with or without a byte-order mark."""
    return "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding


def _decode_error(path: Path, encoding: str, err: UnicodeDecodeError) -> DataError:
    return DataError(
        f"Cannot decode '{path}' as {encoding}: byte 0x{err.object[err.start]:02x} at position {err.start} is invalid. "
        f"Save the file as UTF-8, or pass the file's encoding, e.g. encoding='latin-1'. Received: encoding={encoding!r}"
    )


def _read_csv(path: Path, *, encoding: str, text_columns: Sequence[str], empty_is_missing: bool) -> Table:
    pd = require("pandas", "data", purpose="reading CSV files")
    try:
        df = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",", encoding=_python_encoding(encoding),
                         keep_default_na=False, na_values=[""] if empty_is_missing else None,
                         na_filter=empty_is_missing, dtype={c: str for c in text_columns})
    except UnicodeDecodeError as err:
        raise _decode_error(path, encoding, err) from err
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise DataError(f"Cannot parse '{path}' as CSV: {str(err).strip()}") from err
    return table_from_data_frame(df, f"'{path}'")


def _read_json(path: Path, *, field: str | None, encoding: str) -> Table:
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
            raise DataError(f"'{path}' has no field {field!r}; its top-level keys are {keys}. "
                            f"Received: field={field!r}")
        data = data[field]
    return table_from_records(data, f"'{path}'")


def _json_lines(text: str, path: Path) -> list:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise DataError(f"Cannot parse '{path}' line {number} as JSON (nor the whole file): "
                                f"{err.msg}.") from err
    return records


def _read_parquet(path: Path) -> Table:
    pd = require("pandas", "data", purpose="reading Parquet files")
    try:
        df = pd.read_parquet(path)
    except ImportError as err:
        raise MissingDependencyError(f"Reading '{path}' needs pyarrow. "
                                     f"Install it with: {install_hint('data')}") from err
    except Exception as err:  # pyarrow raises its own error types for corrupt files
        raise DataError(f"Cannot read '{path}' as Parquet: {str(err).splitlines()[0]}") from err
    return table_from_data_frame(df, f"'{path}'")


def table_from_data_frame(df: Any, name: str) -> Table:
    """A pandas DataFrame as a :class:`Table`."""
    return Table(name, [str(c) for c in df.columns], lambda c: df[c].tolist(), len(df),
                 kind=lambda c: _series_kind(df[c]))


def _series_kind(series: Any) -> str | None:
    """``"str"`` / ``"int"`` when a pandas column holds only strings / only integers (none missing)."""
    from pandas.api import types

    if types.is_bool_dtype(series.dtype):
        return None
    if types.is_integer_dtype(series.dtype):
        return "int" if not series.hasnans else None
    if series.dtype == object:  # any values: ask pandas to look at each (in C)
        return "str" if types.infer_dtype(series, skipna=False) == "string" else None
    return "str" if types.is_string_dtype(series.dtype) and not series.hasnans else None


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


def table_from_hf_dataset(dataset: Any, name: str) -> Table:
    """A Hugging Face ``datasets.Dataset`` as a :class:`Table` (columns read whole, as Python lists)."""
    return Table(name, list(dataset.column_names), lambda c: list(dataset[c]), len(dataset))


# ---------------------------------------------------------------------------------------- Hugging Face datasets
def is_hf_dataset(obj: Any) -> bool:
    """Whether ``obj`` is a Hugging Face ``datasets.Dataset`` (duck-typed: ``datasets`` is never imported)."""
    return not isinstance(obj, dict) and hasattr(obj, "column_names") and hasattr(obj, "features")


def is_hf_dataset_dict(obj: Any) -> bool:
    """Whether ``obj`` is a ``datasets.DatasetDict`` (or a plain dict) of Hugging Face datasets."""
    return isinstance(obj, dict) and all(is_hf_dataset(v) for v in obj.values())


def hf_class_names(dataset: Any, column: str) -> list[str] | None:
    """The class names of a ``ClassLabel`` column, or None (another column type, or no such column)."""
    feature = (getattr(dataset, "features", None) or {}).get(column) if dataset is not None else None
    names = getattr(feature, "names", None)
    return list(names) if names else None
