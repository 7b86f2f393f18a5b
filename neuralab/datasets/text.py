"""Next-word data from any plain text, in the layout of the EEE443 trigram homework.

The text is lower-cased and split into words, clitics (``'s``, ``n't``) and punctuation
(``. , ? !``), like the homework's 250-word vocabulary. The ``vocab_size`` most frequent
tokens are kept (ties broken alphabetically, so the vocabulary is deterministic); every run
of ``context + 1`` consecutive kept tokens is a sample: the first ``context`` are the
input, the last is the word to predict. Runs crossing an unknown word are skipped.

    data = build_nextword(Path("book.txt").read_text(), vocab_size=250, seed=0)
    save_nextword("my_trigrams.h5", data)      # EEE443 layout, 1-based ids
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from .eee443 import NextWordData

_TOKEN = re.compile(r"[a-z0-9]+(?=n't)|n't|[a-z0-9]+|'[a-z]+|[.,!?;:]")


def tokenize(text: str) -> list[str]:
    """``"It's late, isn't it?"`` -> ``['it', "'s", 'late', ',', 'is', "n't", 'it', '?']``."""
    return _TOKEN.findall(text.lower().replace("\u2019", "'"))


def build_vocabulary(tokens: list[str], vocab_size: int) -> list[str]:
    counts = Counter(tokens)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [word for word, _ in ranked[:vocab_size]]


def build_nextword(text: str, vocab_size: int = 250, context: int = 3,
                   split=(0.8, 0.1, 0.1), seed: int = 0) -> NextWordData:
    """Samples ``(context ids, next id)`` from ``text`` (0-based ids), shuffled with ``seed``
    and split into train/validation/test by ``split``."""
    if vocab_size < 2:
        raise ValueError(f"vocab_size must be at least 2, got {vocab_size}")
    if context < 1:
        raise ValueError(f"context must be at least 1, got {context}")
    if len(split) != 3 or abs(sum(split) - 1) > 1e-9 or min(split) < 0:
        raise ValueError(f"split must be three non-negative fractions summing to 1, got {split}")
    tokens = tokenize(text)
    words = build_vocabulary(tokens, vocab_size)
    index = {w: i for i, w in enumerate(words)}
    ids = np.array([index.get(t, -1) for t in tokens], dtype=np.int64)
    n = len(ids) - context
    if n <= 0:
        raise ValueError(f"The text has {len(tokens)} tokens: too few for samples of "
                         f"{context + 1} consecutive words")
    windows = np.lib.stride_tricks.sliding_window_view(ids, context + 1)
    windows = windows[(windows >= 0).all(axis=1)]
    if len(windows) == 0:
        raise ValueError("No run of consecutive in-vocabulary words: enlarge vocab_size or the text")
    windows = windows[np.random.default_rng(seed).permutation(len(windows))]
    n_train = int(round(split[0] * len(windows)))
    n_val = int(round(split[1] * len(windows)))
    parts = np.split(windows, [n_train, n_train + n_val])
    x_train, x_val, x_test = (p[:, :context].copy() for p in parts)
    y_train, y_val, y_test = (p[:, context].copy() for p in parts)
    return NextWordData(x_train, y_train, x_val, y_val, x_test, y_test, words)
