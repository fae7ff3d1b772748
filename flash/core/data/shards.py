"""Shards: a data set kept as many files (webdataset-style ``.tar`` archives or ``.parquet`` files), streamed.

:func:`open_shards` lists the files (a glob, a list of paths or globs, local or on any fsspec URL that
``datasets`` reads: ``file://``, ``memory://``, ``s3://`` with s3fs, ``gs://`` with gcsfs, ...) and opens them
as one Hugging Face ``IterableDataset`` with a shard per file, so DDP ranks and DataLoader workers split the
data by file (see :mod:`flash.core.data.streams`). Nothing is read up front but the listing and, for ``.tar``
shards, the first few samples of the first one (``datasets`` infers the columns from them).

A ``.tar`` shard holds the files of each sample side by side, named ``<key>.<column>``: ``000017.jpg`` and
``000017.cls`` make the sample ``{"jpg": <image>, "cls": 3, "__key__": "000017", "__url__": <shard>}``
(``datasets``' "webdataset" builder decodes images, ``cls``/``id`` as int, ``txt`` as text, ``json``).
A ``.parquet`` shard's columns are its table's columns.

Example:
    >>> stream = open_shards("shards/train-*.tar")  # doctest: +SKIP
    >>> stream.n_shards, stream.column_names  # doctest: +SKIP
    (10, ['jpg', 'cls', '__key__', '__url__'])
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flash.errors import ConfigurationError, DataError, MissingDependencyError, require

BUILDERS = {"webdataset": (".tar", ".tar.gz", ".tgz"), "parquet": (".parquet",)}  # datasets' builder -> extensions
FIELD_SUFFIXES = ("_field", "_fields")  # from_datasets' arguments naming a column


def shard_format(files: Sequence[str], *, format: str | None = None) -> str:
    """The ``datasets`` builder that reads ``files``: ``format`` if given, else the one their extension names."""
    if format is not None:
        if format not in BUILDERS:
            raise ConfigurationError(f"Unknown shard format {format!r}; the formats are {sorted(BUILDERS)}. "
                                     f"Received: format={format!r}")
        return format
    found = {name: [f for f in files if _extension_of(f) in ext] for name, ext in BUILDERS.items()}
    unknown = [f for f in files if _extension_of(f) is None]
    if unknown:
        known = ", ".join(e for ext in BUILDERS.values() for e in ext)
        raise ConfigurationError(f"Cannot tell the shard format of {unknown[0]!r}: shards end in {known}. Rename the "
                                 f"files or pass format='webdataset' or format='parquet'. Received: files={unknown!r}")
    used = [name for name, names in found.items() if names]
    if len(used) > 1:
        example = {name: found[name][0] for name in used}
        raise ConfigurationError(f"The shards mix formats ({example}): one stage's shards share one format. "
                                 f"Pass each format's files separately. Received: files={list(files)!r}")
    return used[0]


def _extension_of(path: str) -> str | None:
    name = path.rsplit("/", 1)[-1].lower()
    return next((ext for exts in BUILDERS.values() for ext in exts if name.endswith(ext)), None)


def list_shards(files: str | os.PathLike | Sequence[str | os.PathLike], *, where: str = "files") -> list[str]:
    """The shard files that ``files`` (a path, a glob or fsspec URL, or a list of them) names, each glob sorted."""
    listed = [files] if isinstance(files, (str, os.PathLike)) else files if isinstance(files, Sequence) else None
    patterns = [os.fspath(p) if isinstance(p, os.PathLike) else p for p in listed or []]
    if not patterns or not all(isinstance(p, str) and p for p in patterns):
        raise ConfigurationError(f"{where} takes a path, a glob or a URL ('shards/train-*.tar'), or a list of them. "
                                 f"Received: {where}={files!r}")
    data_files = require("datasets.data_files", "data", purpose="reading shards")
    found: list[str] = []
    for pattern in patterns:
        if re.search(r"\{[^}]*(\.\.|,)[^}]*\}", pattern):
            raise ConfigurationError(f"Brace patterns such as {pattern!r} are not expanded: name the shards with a "
                                     f"glob ('train-*.tar') or a list of paths. Received: {where}={files!r}")
        try:
            found += sorted(data_files.resolve_pattern(pattern, base_path="."))
        except ImportError as err:  # fsspec's: "Install s3fs to access S3"
            raise MissingDependencyError(f"Cannot read {pattern!r}: {err} (with pip). "
                                         f"Received: {where}={files!r}") from err
        except FileNotFoundError:
            raise DataError(f"No shard matches {pattern!r}. Check the path (a glob such as 'shards/train-*.tar', or a "
                            f"URL such as 's3://bucket/train-*.parquet'). Received: {where}={files!r}") from None
    return list(dict.fromkeys(found))  # a file named twice (overlapping globs) is still one shard


def open_shards(files: str | os.PathLike | Sequence[str | os.PathLike], *, format: str | None = None,
                columns: Sequence[str] = (), where: str = "files") -> Any:
    """Shard files as one streamed Hugging Face ``IterableDataset``, one shard per file.

    Args:
        files: a path, a glob or an fsspec URL (``"shards/train-*.tar"``, ``"s3://bucket/part-*.parquet"``), or
            a list of them. Brace patterns (``train-{000..009}.tar``) are not expanded: use a glob or a list.
        format: "webdataset" (``.tar``/``.tar.gz``/``.tgz`` archives) or "parquet"; None: from the extension.
        columns: columns the caller reads: one the shards lack is an error naming the columns they have.
        where: the argument's name, for the messages.
    """
    paths = list_shards(files, where=where)
    builder = shard_format(paths, format=format)
    datasets = require("datasets", "data", purpose="reading shards")
    stream = datasets.load_dataset(builder, data_files=paths, split="train", streaming=True)
    have = list(stream.features) if stream.features is not None else None
    missing = [c for c in columns if have is not None and c not in have]
    if missing:
        hint = " (a .tar shard's columns are its members' extensions)" if builder == "webdataset" else ""
        raise DataError(f"The shards {where}={files!r} have no column {missing[0]!r}; their columns are "
                        f"{sorted(have or [])}{hint}. Pass the field arguments (input_field=, target_field=, ...) "
                        f"with columns they have. Received: columns={list(columns)!r}")
    return stream


def field_columns(from_datasets: Callable[..., Any], kwargs: Mapping[str, Any]) -> dict[str, list[str]]:
    """The columns ``from_datasets`` will read, by argument: its ``*_field(s)`` arguments, given or default."""
    fields = {name: p.default for name, p in inspect.signature(from_datasets).parameters.items()
              if name.endswith(FIELD_SUFFIXES) and p.default is not inspect.Parameter.empty}
    fields.update({name: value for name, value in kwargs.items() if name.endswith(FIELD_SUFFIXES)})
    return {name: [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)]
            for name, value in fields.items() if isinstance(value, (str, list, tuple))}


def shard_streams(data_cls: Any, files: Mapping[str, Any], *, format: str | None,
                  kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``data_cls.from_datasets``' keyword arguments that carry each stage's shards, opened as streams."""
    names = data_cls.from_datasets_stages
    if names is None:
        raise ConfigurationError(
            f"{data_cls.__name__}.from_datasets reads map-style datasets, not streams, so it cannot read shards. "
            f"Read them whole instead: datasets.load_dataset('webdataset' or 'parquet', data_files=..., "
            f"split='train'), then {data_cls.__name__}.from_datasets(...). Received: files={dict(files)!r}")
    if all(value is None for value in files.values()):
        raise ConfigurationError("No shards given: pass at least one of train_files, val_files, test_files or "
                                 "predict_files.")
    fields = field_columns(data_cls.from_datasets, kwargs)
    streams = {}
    for (stage, value), name in zip(files.items(), names):
        if value is None:
            continue
        columns = [c for arg, cols in fields.items() if stage != "predict" or not arg.startswith("target")
                   for c in cols]
        streams[name] = open_shards(value, format=format, columns=columns, where=f"{stage}_files")
    return streams
