"""How ``flash serve`` reads an object detector's uploads and writes its answers (the entry's ``serve`` adapter).

Answers are ``{"boxes": [[x1, y1, x2, y2], ...], "labels": [...], "scores": [...]}`` in the uploaded image's
pixels; the page draws the ``boxes``.

Example:
    >>> SERVE.input_kind
    'image'
"""

from __future__ import annotations

from flash.image.serving import image_serving

SERVE = image_serving()
