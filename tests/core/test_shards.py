"""open_shards and DataModule.from_shards (issue 31 item 3): shard files, local or on an fsspec URL, streamed."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from flash.core.data import DataModule
from flash.core.data.shards import open_shards, shard_format
from flash.errors import ConfigurationError, DataError, MissingDependencyError
from tests.core.shard_helpers import write_parquet_shards, write_tar_shards
from tests.offline import offline_hf  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("offline_hf")

pytest.importorskip("datasets")


def _ids(stream) -> list[int]:
    return sorted(row["id"] for row in stream)


def test_a_glob_a_list_and_a_file_url_open_one_shard_per_file(tmp_path):
    paths = write_parquet_shards(tmp_path / "s")
    by_glob = open_shards(str(tmp_path / "s" / "train-*.parquet"))
    assert by_glob.n_shards == 3 and by_glob.column_names == ["text", "label", "id"]
    assert _ids(by_glob) == list(range(12))
    by_list = open_shards(paths[:2])  # pathlib.Path objects
    assert by_list.n_shards == 2 and _ids(by_list) == list(range(8))
    by_url = open_shards(f"file://{tmp_path}/s/train-*.parquet")
    assert by_url.n_shards == 3 and _ids(by_url) == list(range(12))
    overlapping = open_shards([str(tmp_path / "s" / "train-00[01].parquet"), str(tmp_path / "s" / "*.parquet")])
    assert overlapping.n_shards == 3 and _ids(overlapping) == list(range(12))  # each file once


def test_tar_shards_on_a_memory_url(tmp_path):
    fsspec = pytest.importorskip("fsspec")
    memory = fsspec.filesystem("memory")
    for path in write_tar_shards(tmp_path / "s", shards=2, per_shard=3):
        memory.pipe(f"/flash-shards-test/{path.name}", path.read_bytes())
    try:
        stream = open_shards("memory://flash-shards-test/train-*.tar", columns=["jpg", "cls"])
        assert stream.n_shards == 2
        rows = list(stream)
        assert sorted(r["__key__"] for r in rows) == ["000000", "000001", "000002", "001000", "001001", "001002"]
        assert rows[0]["jpg"].size == (16, 16) and rows[0]["cls"] in (0, 1)
    finally:
        memory.rm("/flash-shards-test", recursive=True)


def test_the_format_comes_from_the_extension_or_format():
    assert shard_format(["a/x.tar", "b/y.TAR.GZ", "s3://b/z.tgz"]) == "webdataset"
    assert shard_format(["a.parquet"]) == "parquet"
    assert shard_format(["a.bin"], format="parquet") == "parquet"
    with pytest.raises(ConfigurationError, match=r"mix formats.*'a.tar'.*'b.parquet'"):
        shard_format(["a.tar", "b.parquet"])
    with pytest.raises(ConfigurationError, match=r"shard format of 'data/c.csv'.*format='webdataset'"):
        shard_format(["a.tar", "data/c.csv"])
    with pytest.raises(ConfigurationError, match=r"Unknown shard format 'csv'.*Received: format='csv'"):
        shard_format(["a.tar"], format="csv")


def test_no_match_and_brace_patterns_name_the_pattern(tmp_path):
    write_tar_shards(tmp_path / "s", shards=1, per_shard=1)
    pattern = str(tmp_path / "s" / "val-*.tar")
    with pytest.raises(DataError, match=r"No shard matches '.*val-\*\.tar'.*Received: val_files="):
        open_shards(pattern, where="val_files")
    with pytest.raises(ConfigurationError, match=r"train-\{000\.\.009\}\.tar.*not expanded.*glob"):
        open_shards(str(tmp_path / "s" / "train-{000..009}.tar"))
    with pytest.raises(ConfigurationError, match=r"\{train,val\}-\*\.tar.*not expanded"):
        open_shards(str(tmp_path / "s" / "{train,val}-*.tar"))
    with pytest.raises(ConfigurationError, match=r"a path, a glob or a URL.*Received: files=\[\]"):
        open_shards([])


def test_a_missing_column_names_the_columns_the_shards_have(tmp_path):
    write_tar_shards(tmp_path / "s", shards=1, per_shard=2)
    with pytest.raises(DataError, match=r"no column 'image'; their columns are \['__key__', '__url__', 'cls', 'jpg'\]"
                                        r".*members' extensions"):
        open_shards(str(tmp_path / "s" / "*.tar"), columns=["image", "cls"])
    write_parquet_shards(tmp_path / "p", shards=1)
    with pytest.raises(DataError, match=r"no column 'sentence'; their columns are \['id', 'label', 'text'\]"):
        open_shards(str(tmp_path / "p" / "*.parquet"), columns=["sentence"])


def test_without_datasets_the_error_gives_the_pip_line(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets -> ImportError
    monkeypatch.setitem(sys.modules, "datasets.data_files", None)
    hint = r"'datasets'.*reading shards.*pip install \"flash-finetune\[data\]\""
    with pytest.raises(MissingDependencyError, match=hint):
        open_shards(str(tmp_path / "*.tar"))


class MapStyleOnly(DataModule):
    @classmethod
    def from_datasets(cls, train_dataset=None, val_dataset=None, test_dataset=None, predict_dataset=None, **kwargs):
        raise AssertionError("never reached")


class Streaming(DataModule):
    from_datasets_stages = ("train_dataset", "val_dataset", "test_dataset", "predict_dataset")

    @classmethod
    def from_datasets(cls, train_dataset=None, val_dataset=None, test_dataset=None, predict_dataset=None, *,
                      input_field: str = "image", target_field: str = "label", **kwargs):
        return {"train": train_dataset, "predict": predict_dataset, "kwargs": kwargs}


def test_from_shards_hands_each_stage_stream_to_from_datasets(tmp_path):
    write_parquet_shards(tmp_path / "s", shards=2)
    write_parquet_shards(tmp_path / "s", shards=1, prefix="predict")
    got = Streaming.from_shards(train_files=str(tmp_path / "s" / "train-*"), predict_files=str(tmp_path / "s" / "pr*"),
                                format="parquet", input_field="text", target_field="label", batch_size=3)
    assert got["train"].n_shards == 2 and got["predict"].n_shards == 1 and got["kwargs"] == {"batch_size": 3}
    with pytest.raises(DataError, match=r"train_files=.*no column 'image'.*columns are \['id', 'label', 'text'\]"):
        Streaming.from_shards(train_files=str(tmp_path / "s" / "train-*.parquet"))  # input_field's default
    with pytest.raises(ConfigurationError, match="No shards given"):
        Streaming.from_shards()


def test_a_data_class_whose_from_datasets_does_not_stream_says_so():
    with pytest.raises(ConfigurationError, match=r"MapStyleOnly.from_datasets reads map-style datasets, not streams"
                                                 r".*load_dataset\('webdataset' or 'parquet'"):
        MapStyleOnly.from_shards(train_files="shards/*.tar")


def test_object_detection_data_streams_its_shards(tmp_path):
    data_cls = pytest.importorskip("flash.image").ObjectDetectionData
    assert data_cls.from_datasets_stages is not None  # from_shards opens the files (see tests/image/detection)
    with pytest.raises(DataError, match=r"No shard matches .*train-\*\.tar"):
        data_cls.from_shards(train_files=str(tmp_path / "train-*.tar"), labels=["cat"])


def test_speech_recognition_streams_its_shards(tmp_path):
    data_cls = pytest.importorskip("flash.audio").SpeechRecognitionData
    assert data_cls.from_datasets_stages == ("train_dataset", "val_dataset", "test_dataset", "predict_dataset")
    with pytest.raises(DataError, match=r"No shard matches .*shards/\*\.tar"):  # it opens them: no map-style refusal
        data_cls.from_shards(train_files=str(tmp_path / "shards" / "*.tar"), input_field="flac", target_fields="txt")


def test_semantic_segmentation_streams_so_it_reads_shards(tmp_path):
    """SemanticSegmentationData.from_datasets streams now: from_shards opens the files (tests/image/segmentation/
    test_streams.py trains on them); a glob that matches nothing is named."""
    from flash.image import SemanticSegmentationData

    assert SemanticSegmentationData.from_datasets_stages == ("train_dataset", "val_dataset", "test_dataset",
                                                             "predict_dataset")
    with pytest.raises(DataError, match=r"No shard matches '.*shards/\*\.tar'"):
        SemanticSegmentationData.from_shards(train_files=str(tmp_path / "shards" / "*.tar"), num_classes=2)


def test_a_url_whose_file_system_is_not_installed_names_it():
    pytest.importorskip("fsspec")
    if importlib.util.find_spec("s3fs") is not None:
        pytest.skip("s3fs is installed")
    with pytest.raises(MissingDependencyError, match=r"Cannot read 's3://bucket/train-\*\.tar': .*s3fs"):
        open_shards("s3://bucket/train-*.tar")
