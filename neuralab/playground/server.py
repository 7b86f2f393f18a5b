"""The playground's HTTP server: the page, a JSON API and a server-sent-event stream.

Standard library only (``http.server.ThreadingHTTPServer``)::

    GET  /                    the page (static/index.html; /static/* its script and style)
    GET  /api/state           the latest frame (curves, decision region, unit maps, weights)
    GET  /api/points          the raw train/test points and targets
    GET  /api/options         the choices and ranges the page offers
    GET  /api/stream          server-sent events: one ``frame`` event per new state
    POST /api/reset           {settings...}: check, rebuild, epoch 0
    POST /api/play | /api/pause
    POST /api/step            {"epochs": n}: train n epochs now
    POST /api/sample          {"split": "train"|"test", "index": i}: the teaching view
    GET  /api/export/toml | /api/export/python | /api/export/model
    POST /api/import          an experiment TOML as the body

Every error is answered as ``{"error": message}``: 4xx for a request that is wrong (a
:class:`RequestError`, or a :class:`~.config.SettingsError` from checking settings, an index
or an imported file), 500 for anything else (a bug: its traceback goes to the server's
stderr); the server itself never stops on a request. At most ``MAX_STREAMS`` live-update
streams are open at once (503 beyond), and a client that stops reading or sending for
``SOCKET_TIMEOUT`` seconds is dropped, so neither can hold the server's threads.

A POST from another site's page and, on a loopback server, a Host other than 127.0.0.1 or
localhost are refused (403): no other web page open in the browser can drive the session or
read it.
"""

from __future__ import annotations

import json
import sys
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import urlsplit

from . import config as config_module
from .config import SettingsError

MAX_BODY = 1 << 20  # bytes of a request body (an imported TOML is a few hundred)
MAX_STEP_EPOCHS = 1000
STREAM_KEEPALIVE = 15.0  # seconds between comments on an idle stream
MAX_STREAMS = 8  # live-update streams open at once (a browser opens one per playground tab)
SOCKET_TIMEOUT = 60.0  # seconds a send or receive may block before the client is dropped
_STATIC = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
           "style.css": "text/css; charset=utf-8"}


class RequestError(Exception):
    """A bad request: answered with ``status`` and ``{"error": message}``."""

    def __init__(self, message: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST):
        super().__init__(message)
        self.status = status


def options() -> dict:
    """What the page's controls offer (names, ranges, defaults)."""
    from ..datasets.synthetic import FEATURES
    return {"datasets": list(config_module.DATASETS),
            "tasks": {name: spec[2] for name, spec in config_module.DATASETS.items()},
            "activations": list(config_module.ACTIVATIONS),
            "optimizers": list(config_module.OPTIMIZERS), "losses": config_module.LOSSES,
            "features": list(FEATURES), "max_layers": config_module.MAX_LAYERS,
            "max_units": config_module.MAX_UNITS, "samples": [config_module.MIN_SAMPLES,
                                                            config_module.MAX_SAMPLES],
            "max_step_epochs": MAX_STEP_EPOCHS, "defaults": config_module.DEFAULTS}


def _loopback_host(host: str) -> bool:
    """Whether a Host header (``name[:port]``) names this machine's loopback interface."""
    import ipaddress
    try:
        name = urlsplit(f"//{host}").hostname or ""
        return name == "localhost" or ipaddress.ip_address(name).is_loopback
    except ValueError:  # not a host name and port, or not an IP address
        return False


def _static(name: str) -> bytes:
    return resources.files("neuralab.playground").joinpath("static", name).read_bytes()


class Handler(BaseHTTPRequestHandler):
    """One request; ``self.server.session`` is the shared :class:`~.session.Session`."""

    server_version = "neuralab-playground"
    protocol_version = "HTTP/1.1"
    server: PlaygroundServer

    def setup(self) -> None:
        self.request.settimeout(self.server.socket_timeout)  # every send and receive after this
        super().setup()

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)

    # -- plumbing ----------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, value, status: int = HTTPStatus.OK) -> None:
        try:
            text = json.dumps(value, allow_nan=False)
        except ValueError:
            raise RequestError("the network's values are not finite (training diverged): lower "
                               "the learning rate and reset", HTTPStatus.CONFLICT) from None
        self._send(status, text.encode(), "application/json")

    def _body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            raise RequestError("Content-Length: expected an integer") from None
        if length < 0 or length > MAX_BODY:
            raise RequestError(f"request body: expected at most {MAX_BODY} bytes, got {length}",
                               HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        return self.rfile.read(length) if length else b""

    def _json_body(self) -> dict:
        body = self._body()
        if not body:
            return {}
        try:
            value = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise RequestError(f"request body: expected JSON ({error})") from None
        if not isinstance(value, dict):
            raise RequestError(f"request body: expected a JSON object, got {type(value).__name__}")
        return value

    def _check_origin(self) -> None:
        """Refuse what a web page of another site could send through the user's browser: a
        POST from another origin (cross-site request forgery), and, on a loopback server, a
        Host that is not a loopback name (DNS rebinding)."""
        host = self.headers.get("Host", "")
        if self.server.local_only and not _loopback_host(host):
            raise RequestError(f"Host {host!r}: this server answers only to 127.0.0.1 or "
                               "localhost", HTTPStatus.FORBIDDEN)
        origin = self.headers.get("Origin")
        if self.command == "POST" and origin is not None and \
                urlsplit(origin).netloc.lower() != host.lower():
            raise RequestError(f"Origin {origin!r}: a page of another site cannot control the "
                               "playground", HTTPStatus.FORBIDDEN)

    def _dispatch(self, routes: dict) -> None:
        path = self.path.split("?", 1)[0]
        try:
            self._check_origin()
            route = routes.get(path)
            if route is None:
                raise RequestError(f"no such address: {self.command} {path}", HTTPStatus.NOT_FOUND)
            route()
        except RequestError as error:
            self.close_connection = True  # a body may be left unread
            self._json({"error": str(error)}, error.status)
        except SettingsError as error:  # settings, an index or an imported file: checked
            self.close_connection = True
            self._json({"error": str(error)}, HTTPStatus.BAD_REQUEST)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True  # the page went away, or stopped reading
        except Exception as error:  # noqa: BLE001 - a bug must not stop the server
            print(f"neuralab playground: internal error answering {self.command} {path}:",
                  file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            self._json({"error": f"internal error: {type(error).__name__}: {error}"},
                       HTTPStatus.INTERNAL_SERVER_ERROR)

    def do_GET(self):  # noqa: N802 - http.server's name
        session = self.server.session
        routes = {"/": lambda: self._send(HTTPStatus.OK, _static("index.html"), _STATIC["index.html"]),
                  "/api/state": lambda: self._json(session.frame()),
                  "/api/points": lambda: self._json(session.points()),
                  "/api/options": lambda: self._json(options()),
                  "/api/stream": self._stream,
                  "/api/export/toml": lambda: self._export("toml"),
                  "/api/export/python": lambda: self._export("python"),
                  "/api/export/model": lambda: self._export("model")}
        routes.update({f"/static/{name}": (lambda n=name: self._send(HTTPStatus.OK, _static(n),
                                                                     _STATIC[n]))
                       for name in _STATIC})
        self._dispatch(routes)

    do_HEAD = do_GET

    def do_POST(self):  # noqa: N802 - http.server's name
        session = self.server.session
        self._dispatch({"/api/reset": lambda: self._json(self._reset()),
                        "/api/play": lambda: self._json(self._control(session.play)),
                        "/api/pause": lambda: self._json(self._control(session.pause)),
                        "/api/step": self._step, "/api/sample": self._sample,
                        "/api/import": self._import})

    # -- routes ------------------------------------------------------------------------------
    def _control(self, action) -> dict:
        self._json_body()  # checked, ignored
        action()
        return self.server.session.summary()

    def _reset(self) -> dict:
        settings = self.server.session.reset(self._json_body())
        return {"settings": settings, **self.server.session.summary()}

    def _step(self) -> None:
        body = self._json_body()
        unknown = sorted(set(body) - {"epochs"})
        if unknown:
            raise RequestError(f"unknown fields {unknown}; step takes {{\"epochs\": n}}")
        epochs = body.get("epochs", 1)
        if isinstance(epochs, bool) or not isinstance(epochs, int) or not 1 <= epochs <= MAX_STEP_EPOCHS:
            raise RequestError(f"epochs: expected an integer in [1, {MAX_STEP_EPOCHS}], got {epochs!r}")
        self._json(self.server.session.step(epochs))

    def _sample(self) -> None:
        body = self._json_body()
        unknown = sorted(set(body) - {"split", "index"})
        if unknown:
            raise RequestError(f"unknown fields {unknown}; sample takes split and index")
        split, index = body.get("split", "train"), body.get("index")
        if split not in ("train", "test"):
            raise RequestError(f"split: expected \"train\" or \"test\", got {split!r}")
        if isinstance(index, bool) or not isinstance(index, int):
            raise RequestError(f"index: expected an integer, got {index!r}")
        self._json(self.server.session.sample(split, index))

    def _export(self, kind: str) -> None:
        content, filename, content_type = self.server.session.export(kind)
        self._send(HTTPStatus.OK, content, content_type,
                   {"Content-Disposition": f'attachment; filename="{filename}"'})

    def _import(self) -> None:
        from .export import import_toml
        try:
            text = self._body().decode("utf-8")
        except UnicodeDecodeError:
            raise RequestError("request body: expected a UTF-8 TOML file") from None
        settings, epochs = import_toml(text)
        session = self.server.session
        session.reset(settings)
        self._json({"settings": session.settings, "file_epochs": epochs, **session.summary()})

    def _stream(self) -> None:
        """Server-sent events: the current frame at once, then every newer one (503 when
        ``server.max_streams`` are open already)."""
        if not self.server.streams.acquire(blocking=False):
            raise RequestError(f"{self.server.max_streams} live-update streams are open already "
                               "(expected at most that many playground pages): close one and "
                               "reload", HTTPStatus.SERVICE_UNAVAILABLE)
        try:
            self._send_frames()
        finally:
            self.server.streams.release()

    def _send_frames(self) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if self.command == "HEAD":
            return
        session, server = self.server.session, self.server
        last = 0
        while not server.stopping.is_set():
            frame = session.wait(last, timeout=STREAM_KEEPALIVE)
            if frame is None:
                self.wfile.write(b": keep-alive\n\n")
                self.wfile.flush()
                continue
            last = frame["version"]
            payload = json.dumps(frame, allow_nan=False)
            self.wfile.write(f"id: {last}\nevent: frame\ndata: {payload}\n\n".encode())
            self.wfile.flush()


class PlaygroundServer(ThreadingHTTPServer):
    """A threading HTTP server holding one :class:`~.session.Session`."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], session, verbose: bool = False,
                 max_streams: int = MAX_STREAMS, socket_timeout: float = SOCKET_TIMEOUT):
        super().__init__(address, Handler)
        self.session = session
        self.verbose = verbose
        self.stopping = threading.Event()
        self.max_streams = max_streams
        self.streams = threading.BoundedSemaphore(max_streams)
        self.socket_timeout = socket_timeout

    @property
    def url(self) -> str:
        """The page's address on this machine (127.0.0.1 when listening on every interface)."""
        host, port = self._host_port()
        return f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}/"

    @property
    def local_only(self) -> bool:
        """Whether only this machine can reach the server (a loopback address)."""
        import ipaddress
        return ipaddress.ip_address(self._host_port()[0]).is_loopback

    def _host_port(self) -> tuple[str, int]:
        host, port = self.server_address[:2]  # (host, port) or, for IPv6, (host, port, flow, scope)
        return str(host), int(port)

    def shutdown(self) -> None:
        self.stopping.set()
        self.session.pause()
        self.session.wake()
        super().shutdown()


def make_server(host: str = "127.0.0.1", port: int = 8000, settings: dict | None = None,
                verbose: bool = False, max_streams: int = MAX_STREAMS,
                socket_timeout: float = SOCKET_TIMEOUT) -> PlaygroundServer:
    """A server bound to ``(host, port)`` (port 0: any free one) with a fresh session;
    ``max_streams`` live-update streams at once, a client silent for ``socket_timeout``
    seconds (not reading what is sent, or not sending its request) is dropped."""
    from .session import Session
    return PlaygroundServer((host, port), Session(settings), verbose=verbose,
                            max_streams=max_streams, socket_timeout=socket_timeout)
