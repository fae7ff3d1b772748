"""What the report callback keeps from validation outputs (through the task's report adapter), and how processes'
shares merge."""

from __future__ import annotations

import torch

from flash.core.reporting.classification import MAX_SHOWN, ClassificationReport
from flash.reports.collect import Collected


def _batch(n: int) -> dict:
    return {"input": torch.rand(n, 3, 4, 4)}


def test_keeps_the_most_confident_mistakes_and_merges_shards():
    first, second = Collected(), Collected()
    preds = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    first.add(None, {"preds": preds, "target": torch.tensor([1, 1, 1]), "loss": torch.tensor(1.0)}, _batch(3))
    assert isinstance(first.part, ClassificationReport) and [round(m[0], 2) for m in first.part.mistakes] == [0.9, 0.6]
    assert all(m[1].shape == (3, 4, 4) and m[2] == 1 and m[3] == 0 for m in first.part.mistakes)
    many = torch.tensor([[0.99, 0.01]] * (MAX_SHOWN + 4))
    second.add(None, {"preds": many, "target": torch.ones(len(many), dtype=torch.long)}, _batch(len(many)))
    assert len(second.part.mistakes) == MAX_SHOWN
    whole = Collected.merged([first, Collected(), second])  # a process that saw no batch adds nothing
    assert torch.cat(whole.part.preds).shape == (3 + MAX_SHOWN + 4, 2) and len(whole.part.mistakes) == MAX_SHOWN
    assert whole.part.mistakes[0][0] == torch.tensor(0.99).item()


def test_inputs_that_are_not_images_show_as_short_text():
    collected = Collected()
    collected.add(None, {"preds": torch.tensor([[0.9, 0.1]]), "target": torch.tensor([1])},
                  {"input": torch.arange(10.0)[None]})
    assert collected.part.mistakes[0][1] == "[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, ...]"


def test_outputs_it_does_not_know_are_ignored():
    collected = Collected()
    collected.add(None, torch.tensor(1.0), _batch(1))
    collected.add(None, {"loss": torch.tensor(1.0)}, _batch(1))
    assert collected.empty
    collected.add(None, {"transcripts": ["a b"], "references": ["a c"]}, {"metadata": [{"filepath": "/x/y.wav"}]})
    assert collected.part.outputs == ("transcripts", "references") and collected.part.names == ["y.wav"]


def test_a_task_gets_its_own_entry_adapter_even_when_another_takes_the_same_keys():
    from flash.text.classification.reporting import TextClassificationReport

    class Tokenizer:
        def decode(self, ids, skip_special_tokens=True):
            return " ".join(f"w{i}" for i in ids)

    text_model = type("TextClassifier", (), {"__module__": "flash.text.classification.model"})()
    text_model.tokenizer = Tokenizer()
    collected = Collected()
    batch = {"input": {"input_ids": torch.tensor([[5, 6, 0]]), "attention_mask": torch.tensor([[1, 1, 0]])}}
    collected.add(text_model, {"preds": torch.tensor([[0.8, 0.2]]), "target": torch.tensor([1])}, batch)
    assert isinstance(collected.part, TextClassificationReport) and collected.part.mistakes[0][1] == "w5 w6"


def test_a_pass_report_joins_its_kept_lists_in_process_order_then_trims():
    from flash.core.reporting import PassReport

    class Kept(PassReport):
        kept = ("names", "images")

        def __init__(self, names=(), images=()):
            self.names, self.images, self.other = list(names), list(images), ["not merged"]

        def trim(self):
            self.images = self.images[:3]

    whole = Kept.merged([Kept(["a", "b"], [1, 2]), Kept(), Kept(["c"], [3, 4])])
    assert whole.names == ["a", "b", "c"] and whole.images == [1, 2, 3] and whole.other == ["not merged"]
