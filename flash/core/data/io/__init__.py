"""Lightning Flash's import paths (``flash.core.data.io.input_transform``, ``flash.core.data.io.input``)."""
