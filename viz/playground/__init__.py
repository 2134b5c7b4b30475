"""The playground: a local web app over a live model (``microgradnn serve``, ``viz.serve``).

``server.py`` is the core every playground app builds on (routes, safety rules, Server-Sent
Events; see its docstring), ``jobs.py`` the one background job (training) at a time.
"""

from .jobs import JobBusy, JobControl, JobRunner, JobStopped
from .server import App, HttpError, Request, Response, Server, json_response, sse_response

__all__ = ["App", "Server", "Request", "Response", "HttpError", "json_response",
           "sse_response", "JobRunner", "JobControl", "JobStopped", "JobBusy"]
