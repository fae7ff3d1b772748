"""The ``flash`` command (placeholder until the CLI lands): prints the version."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    import flash

    print(f"flash {flash.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
