"""``microgradnn serve [CHECKPOINT]``: the playground, a local web app over a live model.

Draw a digit and watch the forward and backward pass, see what each neuron "wants", take one
step of gradient descent, nudge a weight by hand, train live and save the result
(``viz.playground``). Without a checkpoint: an untrained 784-16-16-10 sigmoid network with the
lectures' cost. ``--data moons|circles|spiral|xor`` starts the 2-D playground instead
(``viz.playground.toy_app``: a scalar MLP on the plane, every neuron a heat map; ``--setup``
takes a setup string shared from its page). Listens on 127.0.0.1 at a free port unless told otherwise; Ctrl-C stops it.
``viz`` is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["register", "run_serve"]


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected 0..65535 (0: a free port), got {value}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve", help="a local web app: draw a digit, see the nudges, step, train live",
        description="Start the playground, a local web app over a live model: draw a digit and "
                    "see every activation and gradient, what each neuron wants, one step of "
                    "gradient descent, a weight nudged by hand, training live. Every number is "
                    "computed by microgradnn; the page only draws. Ctrl-C stops the server.")
    parser.add_argument("checkpoint", nargs="?",
                        help="a .npz written by 'microgradnn train' (default: an untrained "
                             "784-16-16-10 sigmoid network with the lectures' cost)")
    parser.add_argument("--port", type=_port, default=0,
                        help="port to listen on (default: 0, a free port)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--no-browser", action="store_true",
                        help="print the address but do not open a browser")
    parser.add_argument("--loss", choices=("mse", "cross-entropy"),
                        help="the cost (default: the checkpoint's)")
    parser.add_argument("-o", "--save", dest="save", metavar="OUT.npz",
                        help="where 'Save checkpoint' writes (-o as every command; default: a "
                             "temporary file, "
                             "removed at exit; 'Download' gives it to the browser)")
    parser.add_argument("--data", metavar="DIR|SET",
                        help="moons, circles, spiral or xor: the 2-D playground on that data "
                             "set; otherwise the folder with the MNIST files (default: "
                             "$MICROGRADNN_DATA, then the cache; write ./moons for a folder "
                             "named like a data set)")
    parser.add_argument("--setup", metavar="TEXT",
                        help="the 2-D playground's setup, as its page's address shows it "
                             "after '#' (implies the 2-D playground)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    from viz.playground.launch import make_playground
    from viz.playground.server import print_banner, warn_if_public

    warning = warn_if_public(args.host)
    if warning:
        print(warning, file=sys.stderr)
    server = make_playground(args.checkpoint, data=args.data, setup=args.setup,
                             loss=args.loss, host=args.host, port=args.port, save=args.save,
                             verbose=args.verbose)
    print_banner(server)
    if not args.no_browser:
        import webbrowser

        try:
            opened = webbrowser.open(server.url)
        except webbrowser.Error:
            opened = False
        if not opened:
            print("microgradnn serve: no browser found here; open the address above",
                  file=sys.stderr)
    server.serve_forever()
    print("microgradnn serve: stopped", file=sys.stderr)
    return 0
