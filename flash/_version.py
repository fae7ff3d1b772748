"""The version of flash: the one place it is written (pyproject.toml reads it, ``flash --version`` prints it)."""

__version__ = "0.1.0"
