"""Helpers for text tests: a tiny random-weight BERT + WordPiece tokenizer saved to a folder (no downloads), and
short labelled sentences."""

from __future__ import annotations

import random

POSITIVE = "good great lovely excellent wonderful superb enjoyable fun brilliant charming".split()
NEGATIVE = "bad awful boring terrible dull poor horrible weak annoying bland".split()
FILLER = "the a movie film plot it was is very quite really and acting story".split()
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_tiny_bert(folder, *, max_position_embeddings: int = 512) -> str:
    """Save a random 2-layer BERT (hidden 32) and a BertTokenizer over our small vocab to ``folder``."""
    from transformers import BertConfig, BertModel, BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    vocab = SPECIAL + sorted(set(POSITIVE + NEGATIVE + FILLER))
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer.from_pretrained(str(folder))
    config = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
                        vocab_size=len(vocab), max_position_embeddings=max_position_embeddings)
    BertModel(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return str(folder)


def make_reviews(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """Short sentences whose sentiment word decides the label ("pos"/"neg")."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        positive = i % 2 == 0
        words = rng.sample(FILLER, rng.randint(2, 6)) + [rng.choice(POSITIVE if positive else NEGATIVE)]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append("pos" if positive else "neg")
    return texts, labels
