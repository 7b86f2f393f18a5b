"""Interoperability: ONNX (checked and run with onnxruntime), PyTorch both ways, Keras weights."""

import numpy as np
import pytest

import neuralab as nl
from neuralab.export import from_torch, load_keras_weights, save_keras_weights, to_onnx, to_torch
from neuralab.layers import (
    Activation,
    AveragePooling2D,
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    Input,
    Layer,
    LeakyReLU,
    MaxPooling2D,
    Reshape,
    Softmax,
    SpatialDropout2D,
)

from .test_conv import create_cnn3, create_cnn4, create_cnn5, create_mlp1, create_mlp2

rng = np.random.default_rng(0)


def randomize_batchnorm(model):
    """Non-trivial moving statistics, so inference-mode BatchNorm is really exercised."""
    for layer in model.layers:
        if isinstance(layer, BatchNormalization):
            c = layer.moving_mean.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, c), rng.normal(0, 0.3, c),
                               rng.normal(0, 0.5, c), rng.uniform(0.5, 2.0, c)])
    return model


def image_input(shape=(9, 8, 3)):
    return Input(shape=shape)


# One small model per layer type (the layer under test sits inside a working network).
CASES = {
    "Dense": lambda: [Input(shape=(7,)), Dense(5)],
    "Dense(no bias)": lambda: [Input(shape=(7,)), Dense(5, use_bias=False)],
    **{f"activation {a}": (lambda a=a: [Input(shape=(7,)), Dense(5, activation=a)])
       for a in ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "softplus", "softmax"]},
    "Activation layers": lambda: [Input(shape=(7,)), Dense(5), Activation("tanh"), LeakyReLU(0.1),
                                  Dense(4), Softmax()],
    "Dropout": lambda: [Input(shape=(7,)), Dense(5), Dropout(0.5), Dense(3)],
    "BatchNormalization (N, D)": lambda: [Input(shape=(7,)), Dense(5), BatchNormalization()],
    "Conv2D valid": lambda: [image_input(), Conv2D(4, 3, activation="relu")],
    "Conv2D same stride 2": lambda: [image_input(), Conv2D(4, (2, 3), strides=2, padding="same")],
    "Conv2D dilated": lambda: [image_input(), Conv2D(3, 3, dilation_rate=2, activation="tanh")],
    "BatchNormalization images": lambda: [image_input(), Conv2D(4, 3), BatchNormalization()],
    "SpatialDropout2D": lambda: [image_input(), SpatialDropout2D(0.5), Conv2D(2, 3)],
    "MaxPooling2D": lambda: [image_input(), MaxPooling2D(2)],
    "MaxPooling2D same": lambda: [image_input(), MaxPooling2D(2, padding="same")],
    "MaxPooling2D overlapping": lambda: [image_input(), MaxPooling2D(3, strides=2)],
    "AveragePooling2D": lambda: [image_input(), AveragePooling2D(2)],
    "GlobalAveragePooling2D": lambda: [image_input(), Conv2D(4, 3), GlobalAveragePooling2D()],
    "GlobalMaxPooling2D": lambda: [image_input(), GlobalMaxPooling2D(keepdims=True)],
    "Flatten": lambda: [image_input(), Conv2D(4, 3), Flatten(), Dense(3)],
    "Reshape": lambda: [Input(shape=(12,)), Reshape((3, 4)), Dense(2)],
    "Embedding": lambda: [Input(shape=(3,)), Embedding(20, 4), Flatten(), Dense(5, activation="softmax")],
}
SEEDS = {"mlp1": create_mlp1, "mlp2": create_mlp2, "cnn3": create_cnn3, "cnn4": create_cnn4,
         "cnn5": create_cnn5}


def build(name):
    model = SEEDS[name]() if name in SEEDS else nl.Sequential(CASES[name]())
    return randomize_batchnorm(model)


def inputs_for(model, n=6):
    shape = model.input_shape[1:]
    if isinstance(model.layers[0], Embedding):
        return rng.integers(0, model.layers[0].input_dim, (n,) + shape)
    return rng.standard_normal((n,) + shape).astype(np.float32)


ALL = list(CASES) + list(SEEDS)


@pytest.mark.parametrize("name", ALL)
def test_onnx_matches_predict(name, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    model = build(name)
    x = inputs_for(model)
    path = tmp_path / "model.onnx"
    to_onnx(model, path)  # runs onnx.checker
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = session.run(None, {"input": x})[0]
    expected = model.predict(x)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ALL)
def test_torch_export_matches_and_round_trips(name):
    torch = pytest.importorskip("torch")
    model = build(name)
    x = inputs_for(model)
    net = to_torch(model).eval()
    with torch.no_grad():
        out = net(torch.tensor(x)).numpy()
    expected = model.predict(x)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    back = from_torch(net, model.input_shape[1:])
    np.testing.assert_allclose(back.predict(x), expected, rtol=1e-5, atol=1e-5)
    assert back.count_params() == model.count_params()


def test_plain_pytorch_cnn_imports_with_channels_last_inputs():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 6, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 4, 3),
                        nn.Tanh(), nn.Flatten(), nn.Linear(4 * 2 * 1, 5), nn.Softmax(dim=1)).eval()
    model = from_torch(net, (10, 8, 3))
    x = rng.standard_normal((4, 10, 8, 3)).astype(np.float32)
    with torch.no_grad():
        expected = net(torch.tensor(x).permute(0, 3, 1, 2)).numpy()
    # the Linear after Flatten was re-ordered: torch flattens (C, H, W), neuralab (H, W, C)
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5, atol=1e-6)


def test_trained_model_is_served_by_onnxruntime_and_fine_tuned_in_pytorch(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((200, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    model = nl.Sequential([Input(shape=(6,)), Dense(16, activation="relu"), Dense(2, activation="softmax")])
    model.compile(optimizer=nl.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=20, verbose=0)
    to_onnx(model, tmp_path / "net.onnx")
    served = ort.InferenceSession(str(tmp_path / "net.onnx")).run(None, {"input": x})[0]
    assert (served.argmax(1) == y).mean() > 0.9
    net = to_torch(model)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    xt, yt = torch.tensor(x), torch.tensor(y)
    losses = []
    for _ in range(30):  # fine-tune: NLL of the softmax output
        loss = torch.nn.functional.nll_loss(torch.log(net(xt)), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    tuned = from_torch(net, (6,))
    with torch.no_grad():
        np.testing.assert_allclose(tuned.predict(x), net(xt).numpy(), rtol=1e-5, atol=1e-6)


def write_keras3_file(path, layers_weights):
    """A .weights.h5 in Keras 3's layout, written with h5py (no Keras needed)."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        f.create_group("vars").attrs["name"] = "sequential"
        for key, name, arrays in layers_weights:
            group = f.create_group(f"layers/{key}/vars")
            group.attrs["name"] = name
            for i, a in enumerate(arrays):
                group.create_dataset(str(i), data=a)


def test_keras3_weights_file_loads_by_class_keys(tmp_path):
    model = nl.Sequential([Input(shape=(6, 6, 1)), Conv2D(2, 3, name="first_conv"),
                           BatchNormalization(name="norm"), Flatten(name="flat"),
                           Dense(4, name="hidden"), Dense(3, use_bias=False, name="out")])
    weights = [rng.standard_normal(w.shape).astype(np.float32) for w in model.get_weights()]
    weights[5] = np.abs(weights[5]) + 0.5  # a valid moving variance
    # Keras names the groups by class and position, whatever the layers are called
    write_keras3_file(tmp_path / "m.weights.h5", [
        ("conv2d", "first_conv", weights[0:2]), ("batch_normalization", "norm", weights[2:6]),
        ("flatten", "flat", []), ("dense", "hidden", weights[6:8]), ("dense_1", "out", weights[8:9])])
    load_keras_weights(model, tmp_path / "m.weights.h5")
    for ours, theirs in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(ours, theirs)


def test_keras2_h5_weights_file_loads_by_layer_order(tmp_path):
    h5py = pytest.importorskip("h5py")
    model = nl.Sequential([Input(shape=(3,)), Dense(4, name="a"), Dropout(0.1), Dense(2, name="b")])
    weights = [rng.standard_normal(w.shape).astype(np.float32) for w in model.get_weights()]
    with h5py.File(tmp_path / "old.h5", "w") as f:
        f.attrs["layer_names"] = [b"dense", b"dropout", b"dense_1"]
        for name, arrays in (("dense", weights[:2]), ("dropout", []), ("dense_1", weights[2:])):
            group = f.create_group(name)
            names = [f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()][:len(arrays)]
            group.attrs["weight_names"] = names
            for n, a in zip(names, arrays):
                group.create_dataset(n.decode(), data=a)
    load_keras_weights(model, tmp_path / "old.h5")
    np.testing.assert_array_equal(model.get_weights()[2], weights[2])


def test_keras_weights_round_trip_and_shape_mismatch(tmp_path):
    model = build("cnn5")
    save_keras_weights(model, tmp_path / "cnn5.weights.h5")
    clone = create_cnn5()
    load_keras_weights(clone, tmp_path / "cnn5.weights.h5")
    x = inputs_for(model)
    np.testing.assert_array_equal(clone.predict(x), model.predict(x))
    other = nl.Sequential([Input(shape=(28, 28, 1)), Conv2D(16, 5), Conv2D(8, 3), MaxPooling2D(2),
                           GlobalAveragePooling2D(), Dense(5)])
    with pytest.raises(ValueError, match=r"Layer 'conv2d.*' \(Conv2D\) expects weights of shapes "
                                         r"\[\(5, 5, 1, 16\), \(16,\)\], the file has \[\(3, 3, 1, 16\)"):
        load_keras_weights(other, tmp_path / "cnn5.weights.h5")


class Custom(Layer):
    def forward(self, x, training=False):
        return x

    def backward(self, dout):
        return dout


def test_unsupported_layers_are_named():
    model = nl.Sequential([Input(shape=(3,)), Custom(name="mystery"), Dense(2)])
    pytest.importorskip("onnx")
    with pytest.raises(ValueError, match=r"Layer 'mystery' \(Custom\) has no ONNX export"):
        to_onnx(model)
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match=r"Layer 'mystery' \(Custom\) has no PyTorch export"):
        to_torch(model)


def test_unsupported_torch_modules_are_named():
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.GRU(4, 4))
    with pytest.raises(ValueError, match=r"Module 1 \(GRU\) has no neuralab counterpart"):
        from_torch(net, (3,))
