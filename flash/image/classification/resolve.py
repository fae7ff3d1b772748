"""Finding image files from the ids in a table, and checking listed paths, with one listing per folder.

An id without extension (``"000123"``) finds ``000123.png`` / ``000123.JPG`` (any image extension, case
insensitive); a folder is listed once however many ids point into it (a glob per row made 4,000 rows take
26 s). Missing files are found from the same listings, so checking 100k paths costs one ``scandir`` per
folder, not a ``stat`` per file.

Example:
    >>> index = FolderIndex()
    >>> index.resolve("images", "000123")  # doctest: +SKIP
    'images/000123.png'
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flash.image.io import is_image_file


@dataclass
class Listing:
    """One folder's entries: file names, folder names, and image files by lower-cased name and stem."""

    files: set[str] = field(default_factory=set)
    folders: set[str] = field(default_factory=set)
    by_lower_name: dict[str, str] = field(default_factory=dict)
    by_lower_stem: dict[str, str] = field(default_factory=dict)
    readable: bool = True


def list_folder(folder: str) -> Listing:
    """The entries of ``folder`` (links followed); an unreadable or missing folder lists as unreadable."""
    listing = Listing()
    try:
        with os.scandir(folder or ".") as entries:
            for entry in entries:
                try:
                    is_dir = entry.is_dir()
                    is_file = not is_dir and entry.is_file()
                except OSError:  # a link loop, a vanished file
                    continue
                if is_dir:
                    listing.folders.add(entry.name)
                elif is_file:
                    listing.files.add(entry.name)
    except OSError:
        listing.readable = False
        return listing
    for name in sorted(listing.files):  # sorted: the first of 17.jpg / 17.png wins, always the same one
        if is_image_file(name):
            listing.by_lower_name.setdefault(name.lower(), name)
            listing.by_lower_stem.setdefault(os.path.splitext(name)[0].lower(), name)
    return listing


class FolderIndex:
    """Listings of the folders asked about, each read once."""

    def __init__(self) -> None:
        self._listings: dict[str, Listing] = {}

    def listing(self, folder: str) -> Listing:
        found = self._listings.get(folder)
        if found is None:
            found = self._listings[folder] = list_folder(folder)
        return found

    def find(self, root: str | os.PathLike | None, file_id: Any) -> str | None:
        """The file ``root/file_id`` names: itself, else an image whose name or stem matches (any case)."""
        path = os.path.join(os.fspath(root), str(file_id)) if root else str(file_id)
        folder, name = os.path.split(path)
        listing = self.listing(folder)
        if not listing.readable:
            return path if os.path.isfile(path) else None
        if name in listing.files:
            return path
        match = listing.by_lower_name.get(name.lower()) or listing.by_lower_stem.get(name.lower())
        return os.path.join(folder, match) if match else None

    def resolve(self, root: str | os.PathLike | None, file_id: Any) -> str:
        """:meth:`find`, or ``root/file_id`` as given when nothing matches (loading it then names it)."""
        found = self.find(root, file_id)
        if found is not None:
            return found
        return os.path.join(os.fspath(root), str(file_id)) if root else str(file_id)


def default_resolver(root: str | os.PathLike | None, file_id: Any) -> str:
    """``root/file_id``; an id without extension (``"17"``) finds ``root/17.<image extension>``."""
    return FolderIndex().resolve(root, file_id)


def csv_folder_resolver(csv_file: str | os.PathLike) -> Callable[[Any, Any], str]:
    """Lightning Flash's lookup for a CSV without an images root: as given (working directory), else next to the CSV."""
    folder = os.path.dirname(os.path.abspath(csv_file))
    index = FolderIndex()

    def resolve(root: Any, file_id: Any) -> str:
        return index.find(None, file_id) or index.resolve(folder, file_id)

    return resolve


def listed_errors(paths: Sequence[str], *, index: FolderIndex | None = None) -> dict[int, str]:
    """``{position: message}`` for each path that is missing or a folder, from one listing per folder."""
    index = index or FolderIndex()
    errors: dict[int, str] = {}
    for position, path in enumerate(paths):
        folder, name = os.path.split(path)
        listing = index.listing(folder)
        if listing.readable and name in listing.files:
            continue
        if name in listing.folders or (not listing.readable and os.path.isdir(path)):
            errors[position] = (f"Cannot read image '{path}': it is a folder, not an image file. "
                                "Rename or move the folder.")
        elif listing.readable or not os.path.isfile(path):
            errors[position] = (f"Cannot read image '{path}': the file does not exist. "
                                "Check the path (and images_root).")
    return errors
