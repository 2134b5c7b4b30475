"""The stepper page's template, style sheet and script, read from ``web/``.

``web/page.js`` never uses ``innerHTML``: every user string reaches the page through
``textContent``. It restyles the SVG laid out once by ``dot`` through classes on
elements found by id; no element is ever created inside the SVG or moved.
"""

from ..html import document_head, read_web_file

__all__ = ["PAGE_TEMPLATE", "PAGE_CSS", "PAGE_JS", "PRACTICE_CSS", "PRACTICE_JS"]

PAGE_TEMPLATE = (document_head("<!--STEPPER_TITLE-->", "/*STEPPER_CSS*/")
                 + read_web_file(__package__, "page.html"))
PAGE_CSS = read_web_file(__package__, "page.css")
PAGE_JS = read_web_file(__package__, "page.js")
# The quiz (``save_stepper(..., practice=True)``): added to the page only then, before
# PAGE_JS, which hands it its hooks (``window.mgPractice``).
PRACTICE_CSS = read_web_file(__package__, "practice.css")
PRACTICE_JS = read_web_file("viz", "judge.js") + read_web_file(__package__, "practice.js")
