"""How ``flash serve`` reads an image classifier's uploads and writes its answers (the entry's ``serve`` adapter).

Example:
    >>> SERVE.input_kind
    'image'
"""

from __future__ import annotations

from flash.image.serving import image_serving

SERVE = image_serving()
