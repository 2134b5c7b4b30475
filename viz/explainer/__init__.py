"""The explain page: a trained model and one image, forward and backward, in one HTML file.

    page = viz.explain(model, image, label=3)   # shows inline in Jupyter
    page.save("three.html")

``record.py`` runs the model's own modules with a forward hook on each, ``entries.py``
turns each recorded call into the page's numbers (a block with its inner maps),
``symbols.py`` names them in the notes' notation, ``data.py`` puts it together,
``jsonout.py`` writes it as the page's JSON, ``page.py`` builds the self-contained HTML
that draws from it (``assets.py`` reads the template, style and drawing script from
``web/``); ``pick.py`` chooses an example worth explaining (a wrong or an unsure one).

``import viz`` makes ``viz.explain`` the function; this package's other names come with
``from viz.explainer import explain_data, UnsupportedModelError``.
"""

from .data import SUPPORTED_LAYERS, UnsupportedModelError, check_model, explain_data
from .page import ExplainPage, explain, page_html
from .pick import pick_example

__all__ = ["explain", "ExplainPage", "explain_data", "page_html", "check_model",
           "UnsupportedModelError", "SUPPORTED_LAYERS", "pick_example"]
