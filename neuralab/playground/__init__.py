"""``neuralab playground``: the lecture's 2-D networks training live in a local web page.

The server (standard library only) trains a neuralab network in a background thread and
streams its state to the page (server-sent events): loss and accuracy curves, the decision
region, every hidden unit's response, the weights. Clicking a sample shows its forward values
and the backward partials the engine computed (the 000 exercise). The network exports as an
experiment TOML, Keras-style Python or a saved model, and an experiment TOML imports back.

    >>> from neuralab.playground import make_server
    >>> server = make_server("127.0.0.1", 0)   # then server.serve_forever()
    >>> server.server_close()
"""

from .config import DEFAULTS, SettingsError, check_settings, from_document, to_document
from .server import PlaygroundServer, make_server
from .session import Session

__all__ = ["DEFAULTS", "SettingsError", "check_settings", "to_document", "from_document",
           "Session", "PlaygroundServer", "make_server"]
