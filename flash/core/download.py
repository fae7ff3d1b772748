"""Files from URLs: ``download_data`` (Lightning Flash's dataset helper) and a cache for single files.

A "URL" is ``http(s)://...`` or ``file://...``; a plain local path works wherever a URL does, so
examples run unchanged on local copies. Downloads go to a temporary name and are renamed when
complete, so an interrupted download is never mistaken for a finished one.

Example:
    >>> from flash.core.data.utils import download_data
    >>> download_data("https://pl-flash-data.s3.amazonaws.com/hymenoptera_data.zip", "./data")  # doctest: +SKIP
    >>> local_file("https://pl-flash-data.s3.amazonaws.com/images/ant_1.jpg")  # doctest: +SKIP
    '/home/me/.cache/flash/downloads/6f1c.../ant_1.jpg'
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from flash.errors import DownloadError

ARCHIVES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz")
CACHE_ENV = "FLASH_CACHE"


def is_url(value: object) -> bool:
    """Whether ``value`` is an ``http(s)://`` or ``file://`` URL (a string)."""
    return isinstance(value, str) and value.split("://", 1)[0].lower() in ("http", "https", "file") and "://" in value


def cache_dir() -> Path:
    """Where downloaded single files live: ``$FLASH_CACHE`` or ``~/.cache/flash``, plus ``downloads/``."""
    root = os.environ.get(CACHE_ENV) or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "flash")
    return Path(root).expanduser() / "downloads"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check(path: Path, sha256: str | None, url: str) -> None:
    if sha256 is None:
        return
    actual = _sha256(path)
    if actual.lower() != sha256.lower():
        path.unlink(missing_ok=True)
        raise DownloadError(
            f"Checksum mismatch for {url!r}: expected sha256 {sha256}, got {actual}; the file was removed. "
            f"Download it again, or check the checksum. Received: sha256={sha256!r}"
        )


def _fetch(url: str, target: Path, *, chunk_size: int, progress: bool) -> None:
    """Copy ``url`` (http(s), file:// or a local path) to ``target`` atomically, with a progress bar."""
    source = urllib.parse.unquote(urllib.parse.urlparse(url).path) if url.lower().startswith("file://") else url
    partial = target.with_name(target.name + ".part")
    try:
        if not is_url(url) or url.lower().startswith("file://"):
            shutil.copyfile(source, partial)
        else:
            _http_get(url, partial, chunk_size=chunk_size, progress=progress)
    except (OSError, ValueError) as err:
        partial.unlink(missing_ok=True)
        where = "Is the machine offline? " if is_url(url) and not url.lower().startswith("file://") else ""
        raise DownloadError(
            f"Cannot download {url!r}: {err}. {where}Download it by other means and pass the local path (or a "
            f"file:// URL) instead. Received: url={url!r}"
        ) from None
    os.replace(partial, target)


def _http_get(url: str, partial: Path, *, chunk_size: int, progress: bool) -> None:
    from tqdm.auto import tqdm

    request = urllib.request.Request(url, headers={"User-Agent": "flash"})
    with urllib.request.urlopen(request, timeout=60) as response, open(partial, "wb") as out:  # noqa: S310
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=partial.name[:-5], disable=not progress) as bar:
            for chunk in iter(lambda: response.read(chunk_size), b""):
                out.write(chunk)
                bar.update(len(chunk))


def _extract(archive: Path, folder: Path) -> None:
    """Unpack a zip/tar archive into ``folder``; members may not escape it."""
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zipped:
            for name in zipped.namelist():
                if not (folder / name).resolve().is_relative_to(folder.resolve()):
                    raise DownloadError(f"Refusing to extract {name!r} from '{archive}': it points outside '{folder}'.")
            zipped.extractall(folder)
    else:
        with tarfile.open(archive) as tarred:
            tarred.extractall(folder, filter="data")


def download_data(url: str, path: str | os.PathLike = "data/", verbose: bool = False, chunk_size: int = 1 << 16, *,
                  sha256: str | None = None) -> None:
    """Download ``url`` into the folder ``path`` and unpack it if it is a zip/tar archive.

    Work already done is skipped: an existing file is not downloaded again (its checksum is
    verified when ``sha256`` is given) and an archive is unpacked once (a ``.<name>.extracted``
    marker records it). ``url`` may be ``http(s)://``, ``file://`` or a local path.

    Args:
        url: where the file is.
        path: the folder to download (and unpack) into; created if missing.
        verbose: print what is skipped.
        chunk_size: bytes read per step of the progress bar.
        sha256: the expected SHA-256 of the file (hex); a mismatch removes the file and raises.

    Raises:
        DownloadError: no network / unknown URL (names the URL and suggests a local path), or a bad checksum.

    Example:
        >>> download_data("https://pl-flash-data.s3.amazonaws.com/titanic.zip", "./data")  # doctest: +SKIP
    """
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / Path(urllib.parse.unquote(urllib.parse.urlparse(str(url)).path)).name
    if target.is_file():
        if verbose:
            print(f"local file already exists: '{target}'")
    else:
        _fetch(str(url), target, chunk_size=chunk_size, progress=True)
    _check(target, sha256, str(url))
    marker = folder / f".{target.name}.extracted"
    if target.name.lower().endswith(ARCHIVES) and not marker.exists():
        _extract(target, folder)
        marker.touch()


def local_file(url_or_path: str | os.PathLike, *, sha256: str | None = None) -> str:
    """A local path for ``url_or_path``: URLs are downloaded once into :func:`cache_dir`; paths pass through.

    Example:
        >>> local_file("images/cat.jpg")
        'images/cat.jpg'
    """
    if not is_url(url_or_path):
        return os.fspath(url_or_path)
    url = str(url_or_path)
    name = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).name or "download"
    target = cache_dir() / hashlib.sha256(url.encode()).hexdigest()[:16] / name
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        _fetch(url, target, chunk_size=1 << 16, progress=False)
    _check(target, sha256, url)
    return str(target)
