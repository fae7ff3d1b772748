#!/usr/bin/env bash
# Wrap the lines ruff reports as too long (E501), one statement at a time (`ruff format --range`), without
# reformatting anything else; long strings and comments stay for a person to split. Review with `git diff`.
#   bash .ci/wrap_long_lines.sh [paths...]       # default: flash tests benchmarks examples
set -euo pipefail
cd "$(dirname "$0")/.."
paths=("${@:-flash tests benchmarks examples}")
# bottom-up within each file, so wrapping a statement does not move the lines still to wrap
ruff check --isolated --line-length 120 --select E501 --output-format concise ${paths[*]} \
  | awk -F: '/E501/ {print $1, $2}' | sort -k1,1 -k2,2rn \
  | while read -r file line; do ruff format --quiet --range "$line:$line" "$file"; done
ruff check --isolated --line-length 120 --select E501 --statistics ${paths[*]} || true
