"""How ``flash serve`` reads a text classifier's inputs (UTF-8 texts) and writes its answers (the entry's
``serve`` adapter). JSON inputs are strings; uploaded files and form fields are UTF-8 bytes.

Example:
    >>> SERVE.decode(b" a fine film ", name="review.txt", settings=SERVE.settings(None))
    'a fine film'
"""

from __future__ import annotations

from typing import Any

from flash.core.serving import Serving, decode_text


def settings(model: Any) -> dict[str, Any]:
    """Texts need nothing from the model to be decoded."""
    return {}


SERVE = Serving("text", settings=settings, decode=decode_text)
