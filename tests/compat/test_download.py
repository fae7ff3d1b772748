"""``download_data`` and ``local_file`` against a local HTTP server (127.0.0.1, a thread), file:// and paths."""

from __future__ import annotations

import hashlib
import tarfile
import zipfile
from pathlib import Path

import pytest

from flash.core.data.utils import download_data
from flash.core.download import local_file
from flash.errors import DownloadError


def _make_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("dataset/train/a.txt", "a")
        out.writestr("dataset/val/b.txt", "b")
    return path


def test_http_zip_downloads_unpacks_and_skips_done_work(server, tmp_path, capsys):
    base, www, requests = server
    archive = _make_zip(www / "dataset.zip")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    download_data(f"{base}/dataset.zip", tmp_path / "data", sha256=digest)
    assert (tmp_path / "data" / "dataset" / "train" / "a.txt").read_text() == "a"
    assert requests == ["/dataset.zip"]
    (tmp_path / "data" / "dataset" / "train" / "a.txt").write_text("edited")
    download_data(f"{base}/dataset.zip", tmp_path / "data", verbose=True)
    assert requests == ["/dataset.zip"], "a finished download is not fetched again"
    assert (tmp_path / "data" / "dataset" / "train" / "a.txt").read_text() == "edited", "nor unpacked again"
    assert "already exists" in capsys.readouterr().out


def test_bad_checksum_removes_the_file(server, tmp_path):
    base, www, _ = server
    _make_zip(www / "dataset.zip")
    with pytest.raises(DownloadError, match="Checksum mismatch.*dataset.zip"):
        download_data(f"{base}/dataset.zip", tmp_path / "data", sha256="0" * 64)
    assert not (tmp_path / "data" / "dataset.zip").exists()


def test_unreachable_url_names_it_and_suggests_a_local_path(server, tmp_path):
    base, _, _ = server
    with pytest.raises(DownloadError, match=r"missing\.zip.*local path"):
        download_data(f"{base}/missing.zip", tmp_path / "data")
    assert not list((tmp_path / "data").iterdir()), "no partial file is left behind"


def test_local_path_file_url_and_tar(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "notes.txt").write_text("hello")
    with tarfile.open(source / "pack.tar.gz", "w:gz") as tar:
        tar.add(source / "notes.txt", arcname="pack/notes.txt")
    download_data(str(source / "pack.tar.gz"), tmp_path / "a")
    assert (tmp_path / "a" / "pack" / "notes.txt").read_text() == "hello"
    download_data((source / "notes.txt").as_uri(), tmp_path / "b")
    assert (tmp_path / "b" / "notes.txt").read_text() == "hello"


def test_zip_members_may_not_escape(tmp_path):
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as out:
        out.writestr("../outside.txt", "x")
    with pytest.raises(DownloadError, match="outside"):
        download_data(str(tmp_path / "evil.zip"), tmp_path / "data")
    assert not (tmp_path / "outside.txt").exists()


def test_local_file_caches_urls_once(server, tmp_path, monkeypatch):
    base, www, requests = server
    monkeypatch.setenv("FLASH_CACHE", str(tmp_path / "cache"))
    (www / "ant_1.jpg").write_bytes(b"jpeg bytes")
    first = local_file(f"{base}/ant_1.jpg")
    assert Path(first).read_bytes() == b"jpeg bytes" and Path(first).name == "ant_1.jpg"
    assert str(tmp_path / "cache") in first
    assert local_file(f"{base}/ant_1.jpg") == first and requests == ["/ant_1.jpg"]
    assert local_file("relative/path.jpg") == "relative/path.jpg"


def test_checkpoint_url_loads_in_python_and_on_the_command_line(server, tmp_path, monkeypatch, capsys):
    import numpy as np
    from PIL import Image

    from flash.cli import main
    from flash.image import ImageClassifier
    from tests.cli.test_checkpoint_versions import FIXTURES, VERSIONED

    base, www, requests = server
    monkeypatch.setenv("FLASH_CACHE", str(tmp_path / "cache"))
    (www / "model.pt").write_bytes(VERSIONED[0].read_bytes())
    probe = np.load(FIXTURES / "probe_images.npy")
    model = ImageClassifier.load_from_checkpoint(f"{base}/model.pt")
    expected = ImageClassifier.load_from_checkpoint(VERSIONED[0]).predict(probe, output="probabilities")
    np.testing.assert_allclose(model.predict(probe, output="probabilities"), expected, atol=1e-6)
    Image.fromarray(probe[0]).save(tmp_path / "x.png")
    monkeypatch.chdir(tmp_path)
    assert main(["predict", "--checkpoint", f"{base}/model.pt", "x.png"]) in (0, None)
    assert capsys.readouterr().out.split("\t")[1].strip() in ("a", "b")
    assert requests == ["/model.pt"], "downloaded once, then read from the cache"
