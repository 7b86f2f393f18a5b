"""``neuralab playground``: serve the live training page on this machine."""

from __future__ import annotations

import sys

from .errors import UsageError


def _playground(args) -> int:
    from neuralab.playground import make_server
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port: expected 0..65535, got {args.port}")
    try:
        server = make_server(args.host, args.port, verbose=args.verbose)
    except OSError as error:
        raise UsageError(f"cannot listen on {args.host}:{args.port} ({error.strerror or error}); "
                         "pick another --port (0: any free one)") from None
    if not server.local_only:
        print(f"neuralab playground: warning: listening on {server.server_address[0]}: anyone who "
              "can reach this machine can use the page (it has no password); --host 127.0.0.1 "
              "keeps it to this machine", file=sys.stderr, flush=True)
    print(f"neuralab playground: open {server.url} (Ctrl+C stops it)", flush=True)
    if args.open:
        import webbrowser
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("neuralab playground: stopped")
    finally:
        server.stopping.set()
        server.session.pause()
        server.server_close()
    return 0


def register(sub) -> None:
    play = sub.add_parser("playground", help="train the lecture's 2-D networks live in a local "
                                             "web page (decision regions, hidden units, "
                                             "backprop of one sample, export)")
    play.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free one)")
    play.add_argument("--host", default="127.0.0.1",
                      help="address to listen on (default 127.0.0.1: this machine only)")
    play.add_argument("--open", action="store_true", help="open the page in the web browser")
    play.add_argument("--verbose", action="store_true", help="log every request")
    play.set_defaults(func=_playground)
