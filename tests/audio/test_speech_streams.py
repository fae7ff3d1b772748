"""Streamed speech (issue 31 item 3): torch / Hugging Face IterableDatasets, generators and .tar shards of clips
with transcripts; resampled as map-style audio is, shuffled through a buffer, split over workers without
duplicates; group_by_length cannot sort a stream."""

from __future__ import annotations

import io
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import flash
from flash.audio import SpeechRecognitionData, SpeechRecognizer
from flash.audio.speech_recognition.stream import SpeechStreamInput
from flash.core.data.samplers import LengthGroupedSampler
from flash.errors import ConfigurationError, DataError
from tests.audio.conftest import tone


class Clips(torch.utils.data.IterableDataset):
    """``{"audio": path, "text": transcript, "id": i}`` with no length, as a user's streaming reader yields them."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows, self.reads = rows, 0

    def __iter__(self):
        for i, row in enumerate(self.rows):
            self.reads += 1
            yield {"audio": row["file"], "text": row["text"], "id": i}


def _ids(loader) -> list[int]:
    return [meta["id"] for batch in loader for meta in batch["metadata"]]


def _trainer(tmp_path, **kwargs) -> flash.Trainer:
    return flash.Trainer(default_root_dir=str(tmp_path / "run"), logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, **kwargs)


def test_a_stream_trains_with_two_workers_and_each_clip_is_read_once_per_epoch(ctc_folder, speech_rows, tmp_path):
    dm = SpeechRecognitionData.from_datasets(Clips(speech_rows[:10]), batch_size=2, num_workers=2, shuffle_buffer=4)
    assert "train=stream" in repr(dm) and dm.group_by_length is False
    loader = dm.train_dataloader()
    assert not isinstance(loader.sampler, LengthGroupedSampler)
    orders = []
    for epoch in range(2):
        dm.train_dataset.set_epoch(epoch)
        orders.append(_ids(loader))
        assert sorted(orders[-1]) == list(range(10))  # every clip once: no duplicate across the two workers
    assert orders[0] != orders[1] and orders[0] != list(range(10))  # shuffled, anew each epoch
    model = SpeechRecognizer(str(ctc_folder), learning_rate=1e-3)
    trainer = _trainer(tmp_path, max_epochs=-1, max_steps=3)
    trainer.fit(model, datamodule=dm)
    assert trainer.global_step == 3


def test_a_resumed_epoch_skips_the_batches_already_trained_on_without_reading_their_audio(speech_rows):
    def loader(skip: int):
        dm = SpeechRecognitionData.from_datasets(Clips(speech_rows[:12]), batch_size=2, num_workers=2,
                                                 shuffle_buffer=4, persistent_workers=False)
        dm.train_dataset.set_epoch(1)
        assert dm.train_dataset.skip_batches(skip, 2, workers=2) == 0  # the stream drops them itself
        return [[m["id"] for m in batch["metadata"]] for batch in dm.train_dataloader()]

    assert loader(2) == loader(0)[2:]  # a whole round of the 2 workers' turns skipped: the very same batches next


def test_torch_stream_of_input_target_dicts_as_map_style_torch_datasets_give(speech_rows):
    items = [{"input": row["file"], "target": row["text"]} for row in speech_rows[:2]]
    samples = list(SpeechStreamInput("train", items, shuffle_buffer=0))
    assert [s["target"] for s in samples] == [r["text"] for r in speech_rows[:2]]


def test_stream_audio_is_resampled_as_map_style_audio_is(tmp_path):
    signal = tone(0.5, 8000)
    path = tmp_path / "c.wav"
    sf.write(path, np.stack([signal, signal], axis=1), 8000, subtype="FLOAT")  # stereo at 8 kHz
    expected = SpeechRecognitionData.from_files([str(path)], ["x"]).train_dataset[0]["input"]
    assert expected.shape == (8000,)  # 0.5 s at the 16 kHz read rate
    cells = [str(path), path.read_bytes(), {"bytes": path.read_bytes(), "path": "c.wav"},
             {"array": signal, "sampling_rate": 8000}]
    stream = SpeechStreamInput("train", [{"audio": cell, "text": "x"} for cell in cells], shuffle_buffer=0)
    for sample in stream:
        assert sample["metadata"]["sampling_rate"] == 16000
        assert torch.allclose(sample["input"], expected, atol=1e-6)
    at_8k = SpeechStreamInput("predict", [signal], sampling_rate=8000)  # an array is taken at sampling_rate
    assert torch.equal(next(iter(at_8k))["input"], torch.from_numpy(signal))


def test_hugging_face_stream_reads_its_audio_column_without_torchcodec(speech_rows):
    datasets = pytest.importorskip("datasets")
    rows = speech_rows[:6]
    table = datasets.Dataset.from_dict({"audio": [r["file"] for r in rows], "sentence": [r["text"] for r in rows],
                                        "id": list(range(6))}).cast_column("audio", datasets.Audio())
    dm = SpeechRecognitionData.from_datasets(table.to_iterable_dataset(num_shards=2), target_fields="sentence",
                                             predict_dataset=table.to_iterable_dataset(), batch_size=4, num_workers=0)
    assert sorted(_ids(dm.train_dataloader())) == list(range(6))
    batch = next(iter(dm.train_dataloader()))
    assert set(batch["target"]) <= {r["text"] for r in rows} and batch["input"]["sampling_rate"] == 16000
    predict = next(iter(dm.predict_dataloader()))
    assert "target" not in predict and [m["id"] for m in predict["metadata"]] == [0, 1, 2, 3]
    with pytest.raises(DataError, match=r"train stream has no column 'text'; its columns are \['audio', 'id', "
                                        r"'sentence'\]"):
        SpeechRecognitionData.from_datasets(table.to_iterable_dataset())


def _write_tar_shards(folder, rows: list[dict], *, shards: int, transcripts: bool = True) -> None:
    """``train-000.tar`` ...: each clip as ``<key>.flac`` + ``<key>.txt``, the clips dealt out to the shards."""
    folder.mkdir(parents=True, exist_ok=True)
    for shard in range(shards):
        with tarfile.open(folder / f"train-{shard:03d}.tar", "w") as tar:
            for i, row in enumerate(rows[shard::shards]):
                data, rate = sf.read(row["file"], dtype="float32")
                flac = io.BytesIO()
                sf.write(flac, data, rate, format="FLAC")
                members = {"flac": flac.getvalue(), **({"txt": row["text"].encode()} if transcripts else {})}
                for extension, payload in members.items():
                    info = tarfile.TarInfo(f"{shard:03d}{i:03d}.{extension}")
                    info.size = len(payload)
                    tar.addfile(info, io.BytesIO(payload))


def test_tar_shards_of_flac_and_txt_train_and_predict(ctc_folder, speech_rows, tmp_path):
    pytest.importorskip("datasets")
    _write_tar_shards(tmp_path / "shards", speech_rows[:8], shards=2)
    glob = str(tmp_path / "shards" / "train-*.tar")
    dm = SpeechRecognitionData.from_shards(train_files=glob, predict_files=glob, input_field="flac",
                                           target_fields="txt", batch_size=2, num_workers=2, shuffle_buffer=4)
    assert dm.train_dataset.source.n_shards == 2
    keys = [meta["__key__"] for batch in dm.train_dataloader() for meta in batch["metadata"]]
    assert sorted(keys) == sorted(f"{s:03d}{i:03d}" for s in range(2) for i in range(4))  # each clip once
    model = SpeechRecognizer(str(ctc_folder), learning_rate=1e-3)
    trainer = _trainer(tmp_path, max_epochs=-1, max_steps=2)
    trainer.fit(model, datamodule=dm)
    assert trainer.global_step == 2
    transcripts = [t for batch in trainer.predict(model, datamodule=dm, output="labels") for t in batch]
    assert len(transcripts) == 8 and all(isinstance(t, str) for t in transcripts)


def test_parquet_shards_written_by_datasets_carry_their_audio(speech_rows, tmp_path):
    datasets = pytest.importorskip("datasets")
    cells = [{"bytes": Path(row["file"]).read_bytes(), "path": Path(row["file"]).name} for row in speech_rows[:4]]
    table = datasets.Dataset.from_dict({"audio": cells, "id": list(range(4))})
    table.cast_column("audio", datasets.Audio(decode=False)).to_parquet(tmp_path / "part-000.parquet")  # hub layout
    dm = SpeechRecognitionData.from_shards(predict_files=str(tmp_path / "part-*.parquet"), batch_size=4,
                                           num_workers=0)
    assert type(dm.predict_dataset.source.features["audio"]).__name__ == "UndecodedAudio"
    batch = next(iter(dm.predict_dataloader()))
    assert batch["input"]["waveform"].shape[0] == 4 and [m["id"] for m in batch["metadata"]] == [0, 1, 2, 3]
    assert batch["metadata"][0]["filepath"] == "yes_m.wav"  # the cell's path names the clip; its bytes are read


def test_shard_and_stream_errors_name_the_columns_and_the_item(speech_rows, tmp_path):
    pytest.importorskip("datasets")
    _write_tar_shards(tmp_path / "shards", speech_rows[:2], shards=1)
    with pytest.raises(DataError, match=r"no column 'audio'; their columns are \['__key__', '__url__', 'flac', "
                                        r"'txt'\]"):
        SpeechRecognitionData.from_shards(str(tmp_path / "shards" / "*.tar"), target_fields="txt")
    with pytest.raises(DataError, match=r"Item 0 of the train stream has no 'audio' field; its fields are "
                                        r"\['file', 'text'\]"):
        next(iter(SpeechStreamInput("train", [{"file": "a.wav", "text": "a"}])))
    with pytest.raises(DataError, match=r"Item 1 of the val stream has no 'text' field \(the transcript\)"):
        list(SpeechStreamInput("val", [{"audio": speech_rows[0]["file"], "text": "a"}, {"audio": "b.wav"}]))
    with pytest.raises(DataError, match=r"transcript of item 0 of the train stream must be a string; got 3"):
        next(iter(SpeechStreamInput("train", [(speech_rows[0]["file"], 3)])))
    bad = [{"audio": b"RIFF garbage", "text": "a"}]
    with pytest.raises(DataError, match=r"Cannot read audio 'item 0 of the train stream'"):
        next(iter(SpeechStreamInput("train", bad)))
    with pytest.raises(DataError, match=r"missing\.wav \(item 0 of the test stream\)'.*does not exist"):
        next(iter(SpeechStreamInput("test", [{"audio": str(tmp_path / "missing.wav"), "text": "a"}])))
    with pytest.raises(ConfigurationError, match="val_split cannot split streamed data"):
        SpeechRecognitionData.from_datasets(Clips(speech_rows[:2]), val_split=0.5)
    with pytest.raises(ConfigurationError, match=r"transcripts \(text\), not classes.*Remove labels and num_classes"):
        SpeechRecognitionData.from_datasets(Clips(speech_rows[:2]), labels=["yes"], num_classes=1)


def test_group_by_length_with_a_stream_warns_and_reads_it_in_stream_order(speech_rows):
    clips = Clips(speech_rows[:6])
    with pytest.warns(UserWarning, match=r"group_by_length=True cannot sort a training stream.*stream order through "
                                         r"its shuffle buffer \(shuffle_buffer=0\)"):
        dm = SpeechRecognitionData.from_datasets(clips, group_by_length=True, shuffle_buffer=0, batch_size=2,
                                                 num_workers=0)
    loader = dm.train_dataloader()
    assert clips.reads == 0 and not isinstance(loader.sampler, LengthGroupedSampler)  # nothing read to sort
    assert _ids(loader) == list(range(6)) and clips.reads == 6  # stream order (no buffer), each clip read once
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # unset or False: no warning
        SpeechRecognitionData.from_datasets(Clips(speech_rows[:2]))
        SpeechRecognitionData.from_datasets(Clips(speech_rows[:2]), group_by_length=False)
    mixed = SpeechRecognitionData.from_files([r["file"] for r in speech_rows[:4]], [r["text"] for r in speech_rows[:4]],
                                             batch_size=2)
    assert mixed.group_by_length and isinstance(mixed.train_dataloader().sampler, LengthGroupedSampler)
