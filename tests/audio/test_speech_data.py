"""SpeechRecognitionData: every from_*, batch padding, and bad-input errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from flash.audio import SpeechRecognitionData
from flash.errors import ConfigurationError, DataError
from tests.audio.conftest import tone


@pytest.fixture
def clips(tmp_path):
    """Three WAVs of different lengths (one stereo at 8 kHz) in tmp_path/audio, with transcripts."""
    folder = tmp_path / "audio"
    folder.mkdir()
    sf.write(folder / "a.wav", tone(0.5, 16000), 16000)
    sf.write(folder / "b.wav", tone(0.25, 16000), 16000)
    sf.write(folder / "c.wav", np.stack([tone(0.75, 8000)] * 2, axis=1), 8000)
    return folder, ["a.wav", "b.wav", "c.wav"], ["one", "two", "three"]


def test_from_files_pads_batches_and_keeps_transcripts(clips):
    folder, names, texts = clips
    dm = SpeechRecognitionData.from_files([str(folder / n) for n in names], texts, batch_size=3)
    assert dm.formats_targets is False and dm.num_classes is None
    batch = next(
        iter(torch.utils.data.DataLoader(dm.train_dataset, batch_size=3, collate_fn=dm.transform.collate("train")))
    )
    assert batch["target"] == texts
    assert batch["input"]["lengths"].tolist() == [8000, 4000, 12000]  # c.wav: 8 kHz stereo -> 16 kHz mono
    assert batch["input"]["waveform"].shape == (3, 12000) and batch["input"]["sampling_rate"] == 16000
    assert torch.all(batch["input"]["waveform"][1, 4000:] == 0)  # zero padding after the clip
    assert batch["metadata"][0]["filepath"].endswith("a.wav")


def test_from_csv_with_audio_root_and_tsv(clips, tmp_path):
    folder, names, texts = clips
    (tmp_path / "train.csv").write_text("file,text\n" + "".join(f"{n},{t}\n" for n, t in zip(names, texts)))
    (tmp_path / "predict.tsv").write_text("file\n" + "".join(f"{n}\n" for n in names))
    dm = SpeechRecognitionData.from_csv(
        "file",
        "text",
        train_file=str(tmp_path / "train.csv"),
        train_audio_root=str(folder),
        predict_file=str(tmp_path / "predict.tsv"),
        predict_audio_root=str(folder),
    )
    assert [s["target"] for s in dm.train_dataset.samples] == texts
    assert dm.predict_dataset[2]["input"].shape == (12000,)
    lightning_style = SpeechRecognitionData.from_csv(
        "file", target_field="text", train_file=str(tmp_path / "train.csv"), train_audio_root=str(folder)
    )
    assert [s["target"] for s in lightning_style.train_dataset.samples] == texts


def test_from_csv_paths_relative_to_the_table(clips):
    folder, names, texts = clips
    (folder / "t.csv").write_text("path,sentence\n" + "".join(f"{n},{t}\n" for n, t in zip(names, texts)))
    dm = SpeechRecognitionData.from_csv("path", "sentence", train_file=str(folder / "t.csv"))
    assert dm.train_dataset[0]["input"].shape == (8000,)


def test_from_json_lines_list_and_field(clips, tmp_path):
    folder, names, texts = clips
    records = [{"audio": str(folder / n), "text": t} for n, t in zip(names, texts)]
    (tmp_path / "lines.json").write_text("\n".join(json.dumps(r) for r in records))
    (tmp_path / "nested.json").write_text(json.dumps({"data": records}))
    lines = SpeechRecognitionData.from_json("audio", "text", train_file=str(tmp_path / "lines.json"))
    nested = SpeechRecognitionData.from_json("audio", "text", val_file=str(tmp_path / "nested.json"), field="data")
    assert (
        [s["target"] for s in lines.train_dataset.samples] == [s["target"] for s in nested.val_dataset.samples] == texts
    )


def test_from_folders_lists_audio_for_prediction(clips):
    folder, names, _ = clips
    (folder / "notes.txt").write_text("not audio")
    dm = SpeechRecognitionData.from_folders(str(folder))
    assert [s["metadata"]["filepath"].rsplit("/", 1)[-1] for s in dm.predict_dataset.samples] == names


def test_from_numpy_arrays(clips):
    arrays = [tone(0.5, 16000), tone(0.3, 16000)]
    dm = SpeechRecognitionData.from_numpy(arrays, ["x", "y"], predict_data=arrays[:1])
    assert torch.allclose(dm.train_dataset[1]["input"], torch.from_numpy(arrays[1]))
    assert dm.train_dataset[1]["metadata"] == {"row": 1, "sampling_rate": 16000}


def test_from_datasets_hf_audio_column_without_torchcodec(clips):
    datasets = pytest.importorskip("datasets")
    folder, names, texts = clips
    ds = datasets.Dataset.from_dict({"audio": [str(folder / n) for n in names], "text": texts})
    ds = ds.cast_column("audio", datasets.Audio(sampling_rate=16000))  # decoding would need torchcodec
    dm = SpeechRecognitionData.from_datasets(ds, predict_dataset=ds)
    assert [s["target"] for s in dm.train_dataset.samples] == texts
    assert dm.train_dataset[2]["input"].shape == (12000,)
    assert dm.predict_dataset.samples[0]["target"] is None


def test_from_datasets_torch_dataset_of_tuples(clips):
    folder, names, texts = clips
    pairs = [(str(folder / n), t) for n, t in zip(names, texts)]
    dm = SpeechRecognitionData.from_datasets(pairs)
    assert dm.train_dataset[0]["target"] == "one" and dm.train_dataset[0]["input"].shape == (8000,)


def test_missing_audio_file_is_named(clips):
    folder, names, texts = clips
    with pytest.raises(DataError, match=r"nope\.wav.*does not exist"):
        SpeechRecognitionData.from_files([str(folder / "a.wav"), str(folder / "nope.wav")], ["a", "b"])


def test_unreadable_audio_file_is_named_when_loaded(clips):
    folder, _, _ = clips
    (folder / "bad.flac").write_bytes(b"fLaC garbage")
    dm = SpeechRecognitionData.from_files([str(folder / "bad.flac")], ["x"])
    with pytest.raises(DataError, match=r"bad\.flac"):
        dm.train_dataset[0]


def test_table_errors_name_the_problem(clips, tmp_path):
    folder, names, texts = clips
    (tmp_path / "t.csv").write_text("file,label\na.wav,one\n")
    with pytest.raises(DataError, match=r"no column 'text'.*\['file', 'label'\]"):
        SpeechRecognitionData.from_csv("file", "text", train_file=str(tmp_path / "t.csv"))
    with pytest.raises(DataError, match="2 train inputs but 1 train targets"):
        SpeechRecognitionData.from_files(["a.wav", "b.wav"], ["x"])
    with pytest.raises(ConfigurationError, match="not both"):
        SpeechRecognitionData.from_csv("file", "text", target_field="text", train_file=str(tmp_path / "t.csv"))
    (tmp_path / "n.csv").write_text("file,text\n")
    with pytest.raises(DataError, match="empty"):
        SpeechRecognitionData.from_csv("file", "text", train_file=str(tmp_path / "n.csv"))
