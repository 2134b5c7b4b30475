"""The explain page: a trained model and one image, forward and backward, in one HTML file.

    page = viz.explain(model, image, label=3)   # shows inline in Jupyter
    page.save("three.html")

``data.py`` computes the numbers with the vectorized path, ``jsonout.py`` writes them
as the page's JSON, ``page.py`` builds the self-contained HTML that draws from it
(``assets.py`` reads the template, style and drawing script from ``web/``).

``import viz`` makes ``viz.explain`` the function; this package's other names come with
``from viz.explainer import explain_data, UnsupportedModelError``.
"""

from .data import SUPPORTED_LAYERS, UnsupportedModelError, check_model, explain_data
from .page import ExplainPage, explain, page_html

__all__ = ["explain", "ExplainPage", "explain_data", "page_html", "check_model",
           "UnsupportedModelError", "SUPPORTED_LAYERS"]
