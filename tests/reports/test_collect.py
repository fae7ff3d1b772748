"""What the report callback keeps from validation outputs, and how processes' shares merge."""

from __future__ import annotations

import torch

from flash.reports.collect import MAX_SHOWN, Collected


def _batch(n: int) -> dict:
    return {"input": torch.rand(n, 3, 4, 4)}


def test_keeps_the_most_confident_mistakes_and_merges_shards():
    first, second = Collected(), Collected()
    preds = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    first.add(None, {"preds": preds, "target": torch.tensor([1, 1, 1]), "loss": torch.tensor(1.0)}, _batch(3))
    assert first.kind == "classification" and [round(m[0], 2) for m in first.mistakes] == [0.9, 0.6]
    assert all(m[1].shape == (3, 4, 4) and m[2] == 1 and m[3] == 0 for m in first.mistakes)
    many = torch.tensor([[0.99, 0.01]] * (MAX_SHOWN + 4))
    second.add(None, {"preds": many, "target": torch.ones(len(many), dtype=torch.long)}, _batch(len(many)))
    assert len(second.mistakes) == MAX_SHOWN
    whole = Collected.merged([first, second])
    assert torch.cat(whole.preds).shape == (3 + MAX_SHOWN + 4, 2) and len(whole.mistakes) == MAX_SHOWN
    assert whole.mistakes[0][0] == torch.tensor(0.99).item()


def test_inputs_that_are_not_images_show_as_short_text():
    collected = Collected()
    collected.add(None, {"preds": torch.tensor([[0.9, 0.1]]), "target": torch.tensor([1])},
                  {"input": torch.arange(10.0)[None]})
    assert collected.mistakes[0][1] == "[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, ...]"


def test_outputs_it_does_not_know_are_ignored():
    collected = Collected()
    collected.add(None, torch.tensor(1.0), _batch(1))
    collected.add(None, {"loss": torch.tensor(1.0)}, _batch(1))
    assert collected.kind is None
    collected.add(None, {"transcripts": ["a b"], "references": ["a c"]}, {"metadata": [{"filepath": "/x/y.wav"}]})
    assert collected.kind == "speech" and collected.names == ["y.wav"]
