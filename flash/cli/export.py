"""``flash export`` lives in :mod:`flash.serve.export` (every task, with metadata); kept here for old imports."""

from flash.serve.export import example_input, export  # noqa: F401
