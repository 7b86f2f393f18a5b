"""The instrument lab's Keras code (course material 001, sections 1.4-1.5), run by neuralab.

Only the imports differ from the seed: ``tensorflow`` became ``neuralab``. The data are
neuralab's note features of the instrument recordings, split by held-out recording runs::

    python examples/instruments_keras.py [PATH/TO/instruments_audio]

(default: ``$NEURALAB_DATA/instruments_audio``; needs ``pip install ".[audio,sklearn]"``).
"""
import os
import sys

from sklearn.preprocessing import StandardScaler

from neuralab.audio import build_feature_dataset, grouped_split

folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.environ.get("NEURALAB_DATA", os.path.expanduser("~/.cache/neuralab")), "instruments_audio")
features = build_feature_dataset(folder)
tr, ts = grouped_split(features, test_fraction=0.25, seed=0)
Xtr, ytr, Xts, yts = features.X[tr], features.y[tr], features.X[ts], features.y[ts]
scaler = StandardScaler()
Xtr_scale = scaler.fit_transform(Xtr)
Xts_scale = scaler.transform(Xts)
num_features, num_classes = Xtr.shape[1], len(features.classes)

# ---- from here on, the seed's code; only the imports differ ----
# (E402: the seed's imports stay where the seed has them)
import neuralab as tf  # noqa: E402  was: import tensorflow as tf
from neuralab.keras import layers, models, optimizers  # noqa: E402  was: from tensorflow.keras import ...

tf.keras.backend.clear_session()
nh = 256
model = models.Sequential()
model.add(layers.Dense(nh, activation='sigmoid', input_shape=(num_features,)))
model.add(layers.Dense(num_classes, activation='softmax'))
model.summary()


class MyCustomCallback(tf.keras.callbacks.Callback):
    def __init__(self, target_accuracy=0.99):
        super().__init__()
        self.target_accuracy = target_accuracy

    def on_epoch_end(self, epoch, logs=None):
        if logs.get('accuracy') >= self.target_accuracy:
            print(f"\nReached target accuracy ({self.target_accuracy * 100:.2f}%), stopping training!")
            self.model.stop_training = True


opt = optimizers.Adam(learning_rate=0.001)
model.compile(optimizer=opt, loss='sparse_categorical_crossentropy', metrics=['accuracy'])
my_callback_instance = MyCustomCallback(target_accuracy=0.99)
history = model.fit(Xtr_scale, ytr, epochs=10, batch_size=100,
                    validation_data=(Xts_scale, yts), callbacks=[my_callback_instance])
test_loss, test_accuracy = model.evaluate(Xts_scale, yts)
print(f"Final Test Accuracy: {test_accuracy * 100:.2f}%")

rates = [0.01, 0.001, 0.0001]
loss_hist = []
for lr in rates:
    print(f"\nTraining model with learning rate: {lr}")
    tf.keras.backend.clear_session()
    model = models.Sequential()
    model.add(layers.Dense(nh, activation='sigmoid', input_shape=(num_features,)))
    model.add(layers.Dense(num_classes, activation='softmax'))
    optimizer = optimizers.Adam(learning_rate=lr)
    model.compile(optimizer=optimizer, loss='sparse_categorical_crossentropy', metrics=['accuracy'])
    history = model.fit(Xtr_scale, ytr, epochs=20, batch_size=100,
                        validation_data=(Xts_scale, yts), verbose=0)
    loss_hist.append(history.history['val_loss'])
    print(f"final val_loss {loss_hist[-1][-1]:.4f}, val_accuracy {history.history['val_accuracy'][-1]:.4f}")
