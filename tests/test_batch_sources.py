"""fit/evaluate/predict on Python generators and PyDataset-like sequences give the same
numbers as on the arrays they yield."""

from __future__ import annotations

import numpy as np
import pytest

import neuralab as nl
from neuralab.layers import Dense


def _model():
    nl.set_seed(3)
    model = nl.Sequential([Dense(6, activation="relu", input_shape=(4,)),
                           Dense(3, activation="softmax")])
    model.compile(optimizer=nl.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _data(n=48):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 4)).astype(np.float32), rng.integers(0, 3, n)


class Batches:
    """A PyDataset-like sequence: len() batches, batch i by indexing, on_epoch_end hook."""

    def __init__(self, x, y, batch_size):
        self.x, self.y, self.batch_size = x, y, batch_size
        self.epochs_ended = 0

    def __len__(self):
        return int(np.ceil(len(self.x) / self.batch_size))

    def __getitem__(self, i):
        s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self.x[s], self.y[s]

    def on_epoch_end(self):
        self.epochs_ended += 1


def _endless(x, y, batch_size):
    while True:
        for i in range(0, len(x), batch_size):
            yield x[i:i + batch_size], y[i:i + batch_size]


def test_generator_and_sequence_train_like_the_arrays():
    x, y = _data()
    reference = _model()
    ref_history = reference.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    from_generator = _model()
    gen_history = from_generator.fit(_endless(x, y, 8), steps_per_epoch=6, epochs=3, verbose=0)
    sequence = Batches(x, y, 8)
    from_sequence = _model()
    # shuffle=False: fit shuffles a PyDataset's batch order by default, as Keras 3 does
    seq_history = from_sequence.fit(sequence, epochs=3, shuffle=False, verbose=0)
    assert sequence.epochs_ended == 3
    for other, history in ((from_generator, gen_history), (from_sequence, seq_history)):
        for a, b in zip(reference.get_weights(), other.get_weights()):
            np.testing.assert_array_equal(a, b)
        assert history.history["loss"] == ref_history.history["loss"]
        assert history.history["accuracy"] == ref_history.history["accuracy"]


def test_validation_evaluate_and_predict_on_generators():
    x, y = _data()
    model = _model()
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0,
                        validation_data=Batches(x[:16], y[:16], 5))
    expected = model.evaluate(x[:16], y[:16], batch_size=5, verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(expected[0], rel=1e-6)
    assert model.evaluate(Batches(x, y, 7), verbose=0) == \
        pytest.approx(model.evaluate(x, y, batch_size=7, verbose=0), rel=1e-6)
    np.testing.assert_allclose(model.predict(iter([(x[:10],), (x[10:20],)])),
                               model.predict(x[:20]), rtol=1e-6)


def test_an_exhausted_generator_is_a_clear_error():
    x, y = _data(16)
    model = _model()
    with pytest.raises(ValueError, match="exhausted"):
        model.fit(iter([(x, y)]), epochs=2, verbose=0)


def test_targets_cannot_be_given_beside_a_generator():
    x, y = _data(16)
    with pytest.raises(ValueError, match="must not be given"):
        _model().fit(_endless(x, y, 8), y, steps_per_epoch=2, verbose=0)
