"""``viz.serve(model)``: the playgrounds, from Python or the command line.

    url = viz.serve()                    # the untrained 784-16-16-10 sigmoid network
    url = viz.serve("mlp.npz")           # a checkpoint; or a model, or a Checkpoint
    url = viz.serve(data="moons")        # the 2-D playground (or setup="data=xor&...")
    viz.playground.stop()                # stop every server started here

The server runs in a background thread of this process (``make_server`` gives the ``Server``
itself, e.g. for tests); in Jupyter the app also shows below the cell in an iframe.
"""

from __future__ import annotations

import os
import sys
from typing import Any, List, Optional

from .mnist_app import mnist_app
from .server import Server, warn_if_public
from .session import load_session
from .toy_setup import DATASETS

__all__ = ["serve", "make_server", "make_playground", "stop", "TOY_DATA"]

_RUNNING: List[Server] = []


def make_server(model: Any = None, *, host: str = "127.0.0.1", port: int = 0,
                loss: Optional[str] = None, data: Optional[str] = None,
                save: Optional[str] = None, verbose: bool = False) -> Server:
    """A ``Server`` of the MNIST playground for ``model`` (not started yet).

    ``model``: None (the untrained 784-16-16-10 sigmoid network with the lectures' cost), a
    checkpoint path, a ``Checkpoint``, a ``Sequential`` or a scalar ``MLP``. ``loss``: the
    cost ("mse" or "cross-entropy"; default: the checkpoint's). ``data``: the MNIST folder
    (default ``$MICROGRADNN_DATA``). ``save``: where "save" writes the checkpoint (default: a
    temporary file, removed when the server stops).
    """
    session = load_session(model, loss=loss, data_root=data)
    session.try_batch()
    try:
        session.set_test(0)
    except ValueError:  # no MNIST on disk: start from an empty drawing
        pass
    return Server(mnist_app(session, save), host=host, port=port, verbose=verbose)


TOY_DATA = tuple(d for d in DATASETS if d != "none")  # the 2-D playground's data sets


def make_playground(model: Any = None, *, data: Optional[str] = None,
                    setup: Optional[str] = None, loss: Optional[str] = None,
                    host: str = "127.0.0.1", port: int = 0, save: Optional[str] = None,
                    verbose: bool = False) -> Server:
    """The playground ``microgradnn serve`` and ``viz.serve`` start (not started yet): the
    2-D one when ``data`` names a 2-D data set (moons, circles, spiral, xor) or ``setup`` is
    given (its page's address after "#"), else the MNIST one (``make_server``), ``data``
    then being the MNIST folder."""
    if data is not None and data not in TOY_DATA and setup is None \
            and not os.path.isdir(data):
        raise ValueError(f"data {data!r} is neither a 2-D data set ({', '.join(TOY_DATA)}) "
                         f"nor a folder of MNIST files")
    if data not in TOY_DATA and setup is None:
        return make_server(model, host=host, port=port, loss=loss, data=data, save=save,
                           verbose=verbose)
    from .toy_app import make_toy_server

    if model is not None:
        raise ValueError(f"serve: the 2-D playground starts from its own network; drop the "
                         f"checkpoint (or model) {model!r} or the 2-D data/setup")
    return make_toy_server(data or "circles", setup=setup, host=host, port=port, save=save,
                           verbose=verbose)


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ipython = shell.get_ipython()  # type: ignore[attr-defined]
    return ipython is not None and "IPKernelApp" in getattr(ipython, "config", {})


def serve(model: Any = None, *, host: str = "127.0.0.1", port: int = 0,
          loss: Optional[str] = None, data: Optional[str] = None,
          save: Optional[str] = None, setup: Optional[str] = None, height: int = 900) -> str:
    """Start the playground in the background and return its URL (token included); in a
    notebook it is shown below the cell. ``viz.serve(data="moons")`` (or ``setup=``) starts
    the 2-D playground, as ``microgradnn serve --data moons`` does (``make_playground``)."""
    warning = warn_if_public(host)
    if warning:
        print(warning, file=sys.stderr)
    server = make_playground(model, data=data, setup=setup, loss=loss, host=host, port=port,
                             save=save).start()
    _RUNNING.append(server)
    if _in_notebook():
        from IPython.display import IFrame, display

        display(IFrame(server.url, width="100%", height=height))
    return server.url


def stop() -> None:
    """Stop every playground server ``serve`` started in this process."""
    while _RUNNING:
        _RUNNING.pop().stop()
