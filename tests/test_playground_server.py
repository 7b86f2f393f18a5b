"""neuralab.playground over HTTP on 127.0.0.1: page, stream, training, teaching view, export.

The server runs in a thread of this process (port 0); the tests talk to it with urllib and
check what comes back against NumPy hand computations, numerical gradients, the experiments
machinery and the saved-model loader.
"""

from __future__ import annotations

import http.client
import json
import runpy
import socket
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

import neuralab as nl
from neuralab.playground import DEFAULTS, make_server

TIMEOUT = 60  # seconds a request may take on a loaded machine (never reached when it works)


@pytest.fixture(scope="module")
def server():
    server = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(TIMEOUT)


def request(server, path: str, body=None, raw: bytes | None = None):
    """(status, headers, bytes) of a GET (no body) or POST (a JSON body, or raw bytes)."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(server.url.rstrip("/") + path, data=data,
                                 method="GET" if data is None else "POST")
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def call(server, path: str, body=None, raw: bytes | None = None) -> dict:
    status, _, content = request(server, path, body, raw)
    assert status == 200, content
    return json.loads(content)


def reset(server, **settings) -> dict:
    """Start over from the default settings changed by ``settings`` (the loss and features
    left to the server, which picks those that fit the data set)."""
    body = {k: v for k, v in DEFAULTS.items() if k not in ("loss", "features")}
    body["features"] = ["x1"] if settings.get("dataset") == "sine" else DEFAULTS["features"]
    return call(server, "/api/reset", {**body, **settings})


# -- page ---------------------------------------------------------------------------------
def test_page_and_its_assets_are_served_with_no_external_address(server):
    status, headers, page = request(server, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    html = page.decode()
    for needed in ('id="region"', 'id="network"', 'id="curves"', 'id="partials"',
                   "/static/app.js", "/static/style.css"):
        assert needed in html
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        status, headers, content = request(server, f"/static/{name}")
        assert status == 200 and headers["Content-Type"].startswith(kind) and content
        assert b"http://" not in content and b"https://" not in content  # works offline
    assert "http://" not in html and "https://" not in html


def test_options_offer_every_data_set_and_feature(server):
    options = call(server, "/api/options")
    assert options["datasets"] == ["disc", "xor", "circles", "moons", "spirals", "sine"]
    assert options["features"] == ["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"]
    assert options["defaults"]["hidden"] == [4] and options["defaults"]["activation"] == "sigmoid"


# -- training -----------------------------------------------------------------------------
def test_steps_lower_the_disc_loss_and_the_same_seed_repeats_the_run(server):
    start = reset(server, seed=0)
    assert start["epoch"] == 0
    runs = [call(server, "/api/step", {"epochs": 60}) for _ in range(2)]
    assert runs[0]["epoch"] == 60 and runs[1]["epoch"] == 120
    assert start["loss"] > runs[0]["loss"] > runs[1]["loss"]
    assert runs[1]["accuracy"] > start["accuracy"]
    again = reset(server, seed=0)
    assert again["loss"] == start["loss"]
    call(server, "/api/step", {"epochs": 60})
    assert call(server, "/api/step", {"epochs": 60})["loss"] == runs[1]["loss"]
    other = reset(server, seed=1)
    assert other["loss"] != start["loss"]


@pytest.mark.parametrize("dataset", ["xor", "circles", "moons", "spirals", "sine"])
def test_every_data_set_trains_and_draws(server, dataset):
    first = reset(server, dataset=dataset, hidden=[6], activation="tanh", learning_rate=0.05,
                  batch_size=20, samples=200)
    after = call(server, "/api/step", {"epochs": 40})
    assert after["loss"] < first["loss"]
    frame = call(server, "/api/state")
    assert frame["task"] == {"spirals": "multiclass", "sine": "regression"}.get(dataset, "binary")
    assert [len(layer) for layer in frame["units"]] == [6]
    assert len(frame["history"]["loss"]) == 41
    points = call(server, "/api/points")
    assert len(points["train"]["x"]) == 100 and len(points["test"]["x"]) == 100


def test_changing_the_data_set_picks_a_loss_and_features_that_fit(server):
    reset(server, loss="mse")
    sine = call(server, "/api/reset", {"dataset": "sine"})["settings"]
    assert (sine["loss"], sine["features"]) == ("mse", ["x1"])
    disc = call(server, "/api/reset", {"dataset": "disc"})["settings"]
    assert (disc["loss"], disc["features"]) == ("binary_crossentropy", ["x1", "x2"])
    spirals = call(server, "/api/reset", {"dataset": "spirals"})["settings"]
    assert spirals["loss"] == "sparse_categorical_crossentropy"


def test_stream_sends_a_frame_at_once_and_new_frames_while_playing(server):
    reset(server)
    with urllib.request.urlopen(server.url + "api/stream", timeout=TIMEOUT) as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"

        def next_frame() -> dict:
            while True:
                line = stream.readline().decode()
                assert line, "the stream ended"
                if line.startswith("data: "):
                    return json.loads(line[6:])
        first = next_frame()
        assert first["epoch"] == 0 and not first["running"]
        assert {"history", "output", "units", "weights", "bounds"} <= set(first)
        call(server, "/api/play", {})
        frames = [next_frame()]
        while frames[-1]["epoch"] < 5:
            frames.append(next_frame())
        call(server, "/api/pause", {})
    versions = [f["version"] for f in frames]
    assert versions == sorted(versions) and versions[0] > first["version"]
    assert any(f["running"] for f in frames)
    assert frames[-1]["output"]["map"] != first["output"]["map"]  # the decision region moved
    assert call(server, "/api/state")["running"] is False


# -- the teaching view --------------------------------------------------------------------
def _hand_partials(layers, activation: str, loss: str, x: np.ndarray, y: float) -> dict:
    """The 000 exercise in NumPy: forward z, h; backward dE/dy, dE/dz, dE/dh, dE/dW, dE/db."""
    f = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh}[activation]
    df = {"sigmoid": lambda h: h * (1 - h), "tanh": lambda h: 1 - h * h}[activation]
    hs, zs = [x], []
    for i, (kernel, bias) in enumerate(layers):
        zs.append(hs[-1] @ kernel + bias)
        last = i == len(layers) - 1
        hs.append(1 / (1 + np.exp(-zs[-1])) if last else f(zs[-1]))
    y_hat = hs[-1]
    if loss == "mse":  # E = (y_hat - y)^2, as in the exercise
        error, dy = float(((y_hat - y) ** 2).sum()), 2 * (y_hat - y)
    else:
        error = float(-(y * np.log(y_hat) + (1 - y) * np.log(1 - y_hat)).sum())
        dy = (y_hat - y) / (y_hat * (1 - y_hat))
    out = {"error": error, "dE_dy": dy, "layers": []}
    dh = dy
    for i in reversed(range(len(layers))):
        last = i == len(layers) - 1
        h = hs[i + 1]
        dz = dh * (h * (1 - h) if last else df(h))
        out["layers"].insert(0, {"z": zs[i], "h": h, "dE_dh": dh, "dE_dz": dz,
                                 "dE_dW": np.outer(hs[i], dz), "dE_db": dz})
        dh = dz @ layers[i][0].T
    out["dE_dx"] = dh
    return out


@pytest.mark.parametrize("loss,hidden,activation", [("binary_crossentropy", [4], "sigmoid"),
                                                    ("mse", [4], "sigmoid"),
                                                    ("binary_crossentropy", [3, 2], "tanh")])
def test_sample_partials_equal_a_numpy_hand_computation_and_numerical_gradients(
        server, loss, hidden, activation):
    reset(server, loss=loss, hidden=hidden, activation=activation)
    call(server, "/api/step", {"epochs": 25})
    got = call(server, "/api/sample", {"split": "test", "index": 7})
    model = server.session.model
    weights = [(layer.kernel.data.copy(), layer.bias.data.copy()) for layer in model.layers]
    x = np.asarray(server.session.data.x_test[7], dtype=np.float64)
    y = float(server.session.data.y_test[7])
    assert got["inputs"] == pytest.approx(x.tolist()) and got["target"] == [y]
    hand = _hand_partials(weights, activation, loss, x, y)
    tight = {"rel": 1e-9, "abs": 1e-12}
    assert got["error"] == pytest.approx(hand["error"], **tight)
    assert got["dE_dy"] == pytest.approx(hand["dE_dy"].tolist(), **tight)
    assert got["dE_dx"] == pytest.approx(hand["dE_dx"].tolist(), **tight)
    assert [layer["name"] for layer in got["layers"]] == \
        [f"hidden_{i + 1}" for i in range(len(hidden))] + ["output"]
    for mine, theirs in zip(got["layers"], hand["layers"]):
        for key in ("z", "h", "dE_dh", "dE_dz", "dE_db"):
            assert mine[key] == pytest.approx(theirs[key].tolist(), **tight), key
        assert np.asarray(mine["dE_dW"]) == pytest.approx(theirs["dE_dW"], **tight)

    # numerical gradients: central differences of the engine's own forward and loss
    def error_now() -> float:
        return model.loss.value(np.array([y]), model.predict(x[None], verbose=0))
    eps = 1e-6
    with server.session._lock:
        for layer, mine in zip(model.layers, got["layers"]):
            for param, key in ((layer.kernel, "dE_dW"), (layer.bias, "dE_db")):
                numeric = np.zeros_like(param.data)
                for index in np.ndindex(param.data.shape):
                    keep = param.data[index]
                    param.data[index] = keep + eps
                    up = error_now()
                    param.data[index] = keep - eps
                    down = error_now()
                    param.data[index] = keep
                    numeric[index] = (up - down) / (2 * eps)
                assert np.asarray(mine[key]) == pytest.approx(numeric, rel=1e-5, abs=1e-8)


def test_a_diverging_run_stops_with_a_message_and_the_server_lives(server):
    reset(server, dataset="sine", optimizer="sgd", learning_rate=10.0, hidden=[16, 16, 16],
          activation="relu", batch_size=1, samples=200)
    stopped = call(server, "/api/step", {"epochs": 50})
    assert stopped["epoch"] < 50 and "training diverged in epoch" in stopped["error"]
    assert call(server, "/api/play", {})["running"] is False  # no playing on a diverged run
    assert call(server, "/api/state")["error"] == stopped["error"]
    assert reset(server)["error"] is None


def test_sample_requests_are_checked(server):
    reset(server)
    for body, fragment in (({"split": "train", "index": 400}, "index: expected an integer in [0, 399]"),
                           ({"split": "valid", "index": 0}, "split"),
                           ({"index": "3"}, "index: expected an integer"),
                           ({"index": 0, "x": 1}, "unknown fields ['x']")):
        status, _, content = request(server, "/api/sample", body)
        assert status == 400 and fragment in json.loads(content)["error"]


# -- export and import --------------------------------------------------------------------
EXPORT_SETTINGS = {"dataset": "moons", "noise": 0.15, "features": ["x1", "x2", "x1*x2"],
                   "hidden": [5, 3], "activation": "tanh", "optimizer": "rmsprop",
                   "learning_rate": 0.01, "batch_size": 25, "l2": 0.001, "seed": 3}


def _trained_for_export(server, epochs: int = 12):
    reset(server, **EXPORT_SETTINGS)
    call(server, "/api/step", {"epochs": epochs})
    return [w.copy() for w in server.session.model.get_weights()]


def test_exported_toml_runs_through_the_experiments_machinery_to_the_same_weights(server, tmp_path):
    from neuralab.experiments import load_experiment
    from neuralab.experiments.sweep import expand_trials
    from neuralab.experiments.trial import run_trial
    from neuralab.models.saving import model_from_bytes
    weights = _trained_for_export(server)
    status, headers, text = request(server, "/api/export/toml")
    assert status == 200 and 'filename="playground-moons-3-5-3-1.toml"' in \
        headers["Content-Disposition"]
    path = tmp_path / "exported.toml"
    path.write_bytes(text)
    experiment = load_experiment(path)
    assert experiment.base["fit"]["epochs"] == 12
    assert experiment.base["data"]["features"] == ["x1", "x2", "x1*x2"]
    (trial,) = expand_trials(experiment)
    result = run_trial(trial)
    assert result.status == "ok", result.error
    trained = model_from_bytes(result.model).get_weights()
    assert len(trained) == len(weights)
    for mine, theirs in zip(weights, trained):
        np.testing.assert_allclose(theirs, mine, rtol=1e-12, atol=1e-14)


def test_exported_python_runs_and_rebuilds_the_same_network(server, tmp_path, capsys):
    weights = _trained_for_export(server)
    status, _, code = request(server, "/api/export/python")
    assert status == 200
    path = tmp_path / "exported.py"
    path.write_bytes(code)
    script = runpy.run_path(str(path), run_name="__main__")
    printed = capsys.readouterr().out
    assert "hidden_1" in printed and "test:" in printed
    model = script["model"]
    assert [layer.name for layer in model.layers] == ["hidden_1", "hidden_2", "output"]
    assert [layer.units for layer in model.layers] == [5, 3, 1]
    for mine, theirs in zip(weights, model.get_weights()):
        np.testing.assert_allclose(theirs, mine, rtol=1e-12, atol=1e-14)


def test_saved_model_loads_and_predicts_the_same(server, tmp_path):
    _trained_for_export(server)
    status, headers, content = request(server, "/api/export/model")
    assert status == 200 and headers["Content-Type"] == "application/zip"
    path = tmp_path / "model.nlz"
    path.write_bytes(content)
    loaded = nl.load_model(path)
    x = server.session.data.x_test
    np.testing.assert_allclose(loaded.predict(x, verbose=0),
                               server.session.model.predict(x, verbose=0), rtol=1e-12)


def test_import_reads_back_an_export_and_the_lecture_lab(server):
    from importlib import resources
    _trained_for_export(server)
    _, _, text = request(server, "/api/export/toml")
    reset(server)  # something else first
    imported = call(server, "/api/import", raw=text)
    assert imported["file_epochs"] == 12 and imported["epoch"] == 0
    assert {k: imported["settings"][k] for k in EXPORT_SETTINGS} == EXPORT_SETTINGS
    lab = resources.files("neuralab.labs").joinpath("synthetic.toml").read_bytes()
    settings = call(server, "/api/import", raw=lab)["settings"]
    assert (settings["dataset"], settings["hidden"], settings["activation"], settings["optimizer"],
            settings["learning_rate"], settings["batch_size"], settings["samples"]) == \
        ("disc", [4], "sigmoid", "adam", 0.03, 100, 800)
    mnist = resources.files("neuralab.labs").joinpath("mnist-mlp.toml").read_bytes()
    status, _, content = request(server, "/api/import", raw=mnist)
    assert status == 400 and "data.loader must be synthetic or sine" in json.loads(content)["error"]
    status, _, content = request(server, "/api/import", raw=b"name = [")
    assert status == 400 and "invalid TOML" in json.loads(content)["error"]


def test_import_counts_a_sweep_before_resolving_it(server):
    _, _, text = request(server, "/api/export/toml")
    values = ", ".join(str(i) for i in range(1, 1001))
    grid = text + f'\n[sweep]\n"fit.epochs" = [{values}]\n"fit.batch_size" = [{values}]\n'.encode()
    status, _, content = request(server, "/api/import", raw=grid)  # resolving it took hours
    assert status == 400
    assert "this experiment has 1000000 sweep points" in json.loads(content)["error"]
    variants = text + b'\n[[variants]]\nname = "a"\n[[variants]]\nname = "b"\n'
    status, _, content = request(server, "/api/import", raw=variants)
    assert status == 400 and "has 2 sweep points" in json.loads(content)["error"]
    one = text + b'\n[sweep]\n"fit.epochs" = [7]\n'
    assert call(server, "/api/import", raw=one)["file_epochs"] == 7
    status, _, content = request(server, "/api/import", raw=text + b'\n[sweep]\n"fit.epochs" = 7\n')
    assert status == 400 and "expected a non-empty list of values" in json.loads(content)["error"]


# -- bad requests -------------------------------------------------------------------------
BAD = [
    ("/api/reset", b"{not json", 400, "expected JSON"),
    ("/api/reset", b"[1, 2]", 400, "expected a JSON object"),
    ("/api/reset", b'{"colour": "red"}', 400, "unknown settings ['colour']"),
    ("/api/reset", b'{"hidden": [4, 100000]}', 400, "hidden.1: expected an integer number of units"),
    ("/api/reset", b'{"hidden": [1, 1, 1, 1, 1, 1, 1, 1]}', 400, "at most 6 layer sizes"),
    ("/api/reset", b'{"samples": 100000000}', 400, "samples: expected an integer in [20, 2000]"),
    ("/api/reset", b'{"learning_rate": -0.1}', 400, "learning_rate: expected a number in (0.0, 10.0]"),
    ("/api/reset", b'{"learning_rate": "fast"}', 400, "learning_rate: expected a number"),
    ("/api/reset", b'{"l2": 1e400}', 400, "l2: expected a number, got inf"),
    ("/api/reset", b'{"noise": NaN}', 400, "noise: expected a number, got nan"),
    ("/api/reset", b'{"dataset": "iris"}', 400, "dataset: expected one of"),
    ("/api/reset", b'{"loss": "mse", "dataset": "spirals"}', 400, "loss: expected one of"),
    ("/api/reset", b'{"features": ["x1", "x3"]}', 400, "features: unknown ['x3']"),
    ("/api/reset", b'{"features": []}', 400, "features: expected a non-empty list"),
    ("/api/reset", b'{"dataset": "sine", "features": ["x2"]}', 400, "need 2-D points"),
    ("/api/reset", b'{"batch_size": 0}', 400, "batch_size: expected an integer in [1, 800]"),
    ("/api/reset", b'{"seed": true}', 400, "seed: expected an integer"),
    ("/api/step", b'{"epochs": 1000000000}', 400, "epochs: expected an integer in [1, 1000]"),
    ("/api/step", b'{"epochs": 2.5}', 400, "epochs: expected an integer"),
    ("/api/step", b'{"steps": 1}', 400, "unknown fields ['steps']"),
    ("/api/import", b"\xff\xfe", 400, "expected a UTF-8 TOML file"),
    ("/api/nothing", b"{}", 404, "no such address: POST /api/nothing"),
]


@pytest.mark.parametrize("path,body,status,fragment", BAD, ids=[f"{p}:{b[:24]!r}" for p, b, _, _ in BAD])
def test_bad_requests_get_a_4xx_json_message_and_change_nothing(server, path, body, status, fragment):
    before = reset(server, seed=5)
    got, headers, content = request(server, path, raw=body)
    assert got == status and headers["Content-Type"] == "application/json"
    assert fragment in json.loads(content)["error"]
    after = call(server, "/api/step", {"epochs": 1})  # still alive, still the same session
    assert after["epoch"] == 1 and call(server, "/api/state")["settings"]["seed"] == 5
    assert before["loss"] != after["loss"]


def test_a_huge_declared_body_is_refused_without_reading_it(server):
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    connection.putrequest("POST", "/api/reset")
    connection.putheader("Content-Length", str(10 ** 9))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413 and "at most" in json.loads(response.read())["error"]
    connection.close()
    assert request(server, "/api/state")[0] == 200


def test_unknown_get_addresses_are_404_json(server):
    status, _, content = request(server, "/static/../../etc/passwd")
    assert status == 404 and "no such address" in json.loads(content)["error"]


def test_the_command_refuses_a_bad_port():
    from neuralab.cli import main
    assert main(["playground", "--port", "70000"]) == 2


def test_a_play_that_comes_in_while_pause_waits_keeps_its_training_thread():
    from neuralab.playground import Session
    session = Session()
    session.play()
    first = session._thread
    started = []
    join = first.join

    def join_then_play(*args):  # the interleaving of a play request during a pause request
        join(*args)
        session.play()
        started.append(session._thread)

    first.join = join_then_play
    session.pause()
    second = started[0]
    assert second is not first and session._thread is second and session.running
    session.pause()  # must reach the thread that play started: none is left training
    assert not first.is_alive() and not second.is_alive() and not session.running


def test_a_published_frame_is_a_snapshot_that_later_epochs_leave_alone():
    from neuralab.playground import Session
    session = Session()
    session.step(2)
    frame = session.frame()
    before = json.dumps(frame["history"])
    session.step(3)
    assert json.dumps(frame["history"]) == before and frame["history"]["epoch"] == [0, 1, 2]
    assert session.frame()["history"]["epoch"] == [0, 1, 2, 3, 4, 5]


def test_the_command_warns_when_other_machines_can_reach_it_and_stops_on_ctrl_c(monkeypatch,
                                                                                capsys):
    from neuralab.cli import main
    from neuralab.playground import PlaygroundServer

    def interrupted(self, *args):
        assert self.url.startswith("http://127.0.0.1:")  # an address a browser here can open
        raise KeyboardInterrupt

    monkeypatch.setattr(PlaygroundServer, "serve_forever", interrupted)
    assert main(["playground", "--host", "0.0.0.0", "--port", "0"]) == 0
    out, err = capsys.readouterr()
    assert "warning: listening on 0.0.0.0" in err and "--host 127.0.0.1" in err
    assert "Traceback" not in out + err and out.strip().endswith("stopped")
    assert main(["playground", "--port", "0"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "open http://127.0.0.1:" in out


def test_a_pause_that_comes_in_while_play_starts_its_thread_does_not_fail(monkeypatch):
    from neuralab.playground import Session
    session = Session()
    start = threading.Thread.start
    seen = []

    def pause_then_start(thread):  # a pause request arriving between creating and starting
        if thread.name == "playground-training":
            session.pause()
            seen.append(session._thread)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", pause_then_start)
    session.play()
    assert seen == [None] and session.running
    session.pause()
    assert not session.running


@pytest.mark.parametrize("headers, fragment", [
    ({"Origin": "http://evil.example"}, "a page of another site cannot control the playground"),
    ({"Origin": "null"}, "a page of another site cannot control the playground"),
    ({"Host": "evil.example:80"}, "answers only to 127.0.0.1 or localhost"),
    ({"Host": "[::1"}, "answers only to 127.0.0.1 or localhost"),
])
def test_requests_another_site_could_make_through_a_browser_are_refused(server, headers,
                                                                        fragment):
    call(server, "/api/pause", {})
    epoch = call(server, "/api/state")["epoch"]
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    body = json.dumps({"epochs": 3}).encode()
    connection.putrequest("POST", "/api/step", skip_host="Host" in headers)
    for key, value in {"Content-Type": "text/plain", "Content-Length": str(len(body)),
                       **headers}.items():
        connection.putheader(key, value)
    connection.endheaders(body)
    response = connection.getresponse()
    assert response.status == 403 and fragment in json.loads(response.read())["error"]
    connection.close()
    assert call(server, "/api/state")["epoch"] == epoch  # nothing trained
    same_site = {"Origin": server.url.rstrip("/"), "Host": f"localhost:{port}"}
    for key, value in same_site.items():  # the page itself (by either name) still may
        req = urllib.request.Request(server.url + "api/step", data=body, method="POST",
                                     headers={key: value})
        with urllib.request.urlopen(req, timeout=TIMEOUT) as response:
            assert json.loads(response.read())["epoch"] > epoch


@pytest.mark.parametrize("error", [ValueError("operands could not be broadcast together"),
                                   TypeError("unsupported operand type(s)")])
def test_a_bug_inside_training_is_a_500_with_its_traceback_logged_and_the_server_lives(
        server, monkeypatch, capsys, error):
    reset(server)

    def broken_epoch():  # a ValueError/TypeError of a bug, not of the request
        raise error

    monkeypatch.setattr(server.session, "_train_epoch", broken_epoch)
    status, _, content = request(server, "/api/step", {"epochs": 2})
    assert status == 500
    assert json.loads(content)["error"] == f"internal error: {type(error).__name__}: {error}"
    err = capsys.readouterr().err
    assert "internal error answering POST /api/step" in err and "Traceback" in err
    assert f"{type(error).__name__}: {error}" in err.splitlines()[-1]
    monkeypatch.undo()
    assert call(server, "/api/step", {"epochs": 1})["epoch"] == 1  # still serving
    status, _, content = request(server, "/api/reset", {"hidden": [0]})  # a bad request: 400
    assert status == 400 and "hidden.0: expected an integer" in json.loads(content)["error"]


def try_stream(server) -> http.client.HTTPResponse:
    """The response to a GET /api/stream, its first frame read when it is a 200."""
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=TIMEOUT)
    connection.request("GET", "/api/stream")
    response = connection.getresponse()
    while response.status == 200 and not response.readline().startswith(b"data: "):
        pass
    return response


def open_stream(server) -> http.client.HTTPResponse:
    """A live-update stream, its first frame read (the server holds it open)."""
    response = try_stream(server)
    assert response.status == 200, response.read()
    return response


@pytest.fixture
def own_server(request):
    """A server of this test's own (``make_server`` keywords from ``indirect`` params)."""
    made = make_server("127.0.0.1", 0, **getattr(request, "param", {}))
    thread = threading.Thread(target=made.serve_forever, daemon=True)
    thread.start()
    yield made
    made.shutdown()
    made.server_close()
    thread.join(TIMEOUT)


def test_at_most_eight_streams_are_open_and_a_closed_one_frees_its_place(own_server):
    from neuralab.playground.server import MAX_STREAMS
    assert MAX_STREAMS == 8 and own_server.max_streams == 8
    streams = [open_stream(own_server) for _ in range(8)]
    status, headers, content = request(own_server, "/api/stream")
    assert status == 503 and headers["Content-Type"] == "application/json"
    assert "8 live-update streams are open already" in json.loads(content)["error"]
    assert call(own_server, "/api/state")["epoch"] == 0  # the rest of the API still answers
    streams.pop().close()
    # The server notices the closed stream when it next writes to it: new frames until then.
    deadline = time.monotonic() + TIMEOUT
    while (ninth := try_stream(own_server)).status == 503 and time.monotonic() < deadline:
        ninth.close()
        call(own_server, "/api/step", {"epochs": 1})
    assert ninth.status == 200
    streams.append(ninth)
    for stream in streams:
        stream.close()


@pytest.mark.parametrize("own_server", [{"socket_timeout": 0.5}], indirect=True)
@pytest.mark.parametrize("sent", [b"", b"GET /api/sta"])
def test_a_client_that_goes_quiet_is_dropped(own_server, sent):
    with socket.create_connection(own_server.server_address[:2], timeout=TIMEOUT) as client:
        client.sendall(sent)
        assert client.recv(1024) == b""  # the server closed it (before: blocked for good)


@pytest.mark.parametrize("own_server", [{"max_streams": 1}], indirect=True)
def test_a_stream_whose_client_stopped_reading_gives_back_its_place(own_server, monkeypatch,
                                                                    capsys):
    from neuralab.playground.server import Handler
    send_frames = Handler._send_frames

    def timed_out(self):  # a write that blocked SOCKET_TIMEOUT seconds on a full socket
        raise TimeoutError("timed out")

    monkeypatch.setattr(Handler, "_send_frames", timed_out)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        open_stream(own_server)
    monkeypatch.setattr(Handler, "_send_frames", send_frames)
    open_stream(own_server).close()  # the one place is free again
    assert "internal error" not in capsys.readouterr().err
