"""The start every self-contained page of ``viz`` shares (the stepper, the explain page).

Its Content-Security-Policy allows no request at all: styles and scripts inline, images as
``data:`` URLs only, so a page works offline and a hostile string cannot load anything.
"""

__all__ = ["document_head"]


def document_head(title: str, css: str) -> str:
    """``<!DOCTYPE html>`` up to and including ``<body>``; ``title`` and ``css`` are placed
    verbatim (the pages pass placeholders that they replace, escaped, later)."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
"""
