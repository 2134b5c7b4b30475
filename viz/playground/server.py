"""The playground's local web server: routes, safety rules and a clean stop.

Standard library only (``http.server.ThreadingHTTPServer``): one thread per connection, so a
slow or stalled client holds its own thread until its socket times out and never blocks the
others. The computing lives in the app; this module only moves requests and answers.

The core API (what an app such as the MNIST playground or the 2-D playground builds on)::

    app = App()                                   # a routing table + a JobRunner
    @app.route("GET", "/api/state")               # exact paths; handler(request) -> Response
    def state(request):
        return json_response({"ok": True})
    @app.route("POST", "/api/step")
    def step(request):
        body = request.json()                     # a dict; HttpError(400) if it is not JSON
        raise HttpError(400, "lr must be > 0")    # -> 400 {"error": "lr must be > 0"}
    server = Server(app, host="127.0.0.1", port=0)  # port 0: a free port chosen by the OS
    print(server.url)                             # http://127.0.0.1:PORT/?token=...
    server.start()                                # serve in a background thread ...
    server.stop()                                 # ... or server.serve_forever() until Ctrl-C

Every request passes these checks before any handler runs (each refusal is a 4xx whose body
is one line of JSON, ``{"error": "..."}``, and the server keeps serving):

- the token: ``?token=`` in the URL or the ``X-Microgradnn-Token`` header must equal the
  random token printed in ``server.url`` (403 otherwise; compared in constant time);
- the Host header must name the address the server is bound to (``127.0.0.1:PORT`` or
  ``localhost:PORT``), so a page on another site whose name was re-pointed at 127.0.0.1
  (DNS rebinding) is refused (403); bound to a wildcard address, any IP literal,
  ``localhost`` and this machine's name are accepted;
- a POST must carry an ``Origin`` equal to ``http://`` + its Host (the page's own origin;
  403 otherwise) and a ``Content-Length`` of at most ``max_body`` bytes (1 MB by default;
  411 without it, 413 above it: refused before anything is kept; a body of up to 4 MB is
  read and dropped so that the client sees the 413, a larger one is not read at all);
- at most ``max_connections`` (64) connections are served at once, each in its thread with a
  socket timeout (10 s); one more gets a 503 at once;
- a handler's ``HttpError`` becomes its status, a ``ValueError``/``TypeError`` a 400 with the
  error's first line (the library's messages name the problem and the value), anything else
  a 500 with one line (the traceback goes to stderr, not to the client).

Responses: ``json_response(obj)``, ``page_response(html)`` (an app's page, with ``PAGE_CSP``:
its inline script may fetch from this server and nowhere else), ``html_response(text)``,
``file_response(data, name)`` (a download), ``sse_response(events)`` (Server-Sent Events from
an iterator, which should end when ``server.stopping`` is set). Responses carry
``Cache-Control: no-store``, ``Referrer-Policy: no-referrer`` (the token stays out of other
sites' logs) and ``X-Content-Type-Options: nosniff``. A page reads the token from its own
address and sends it with each request (``X-Microgradnn-Token``, or ``?token=`` where a
header cannot be set: an ``<iframe src>``, an ``EventSource``, a download link).

Background work: ``app.jobs`` (``jobs.JobRunner``) runs one job at a time,
``app.jobs.start(name, run)`` with ``run(control)`` calling ``control.checkpoint()`` between
steps and ``control.report(...)`` for progress (start/pause/resume/stop, polled or streamed).
``App.on_shutdown(fn)`` registers what ``stop`` runs before closing; the job runner's stop is
registered already, so a running job ends after its current step.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import secrets
import socket
import sys
import threading
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

from .jobs import JobRunner

__all__ = ["App", "Server", "Request", "Response", "HttpError", "json_response",
           "html_response", "page_response", "file_response", "sse_response", "MAX_BODY",
           "TOKEN_HEADER", "PAGE_CSP"]

MAX_BODY = 1 << 20  # bytes of a request body
TOKEN_HEADER = "X-Microgradnn-Token"
SOCKET_TIMEOUT = 10.0  # seconds a client may stay silent mid-request
MAX_CONNECTIONS = 64  # connections served at once (one thread each)
# An app's page: inline script and style, requests to this server only, images as data:/blob:.
PAGE_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
            "img-src data: blob:; connect-src 'self'; frame-src 'self'; base-uri 'none'; "
            "form-action 'none'")
DRAIN_LIMIT = 4 << 20  # a refused body up to this size is read and dropped (see _drain)
_WILDCARDS = ("0.0.0.0", "::", "")


class HttpError(Exception):
    """Raised by a handler (or the checks): answered as ``status`` with ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = " ".join(str(message).split())  # one line, always


@dataclass
class Request:
    """One checked request: ``method``, ``path`` (no query), ``query`` (first value of each
    name), ``headers`` (a case-insensitive mapping) and the raw ``body`` bytes."""

    method: str
    path: str
    query: Dict[str, str]
    headers: Any
    body: bytes = b""

    def json(self) -> Dict[str, Any]:
        """The body as a JSON object; ``HttpError(400)`` naming the problem otherwise."""
        try:
            value = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise HttpError(400, f"the request body is not JSON: {error}") from None
        except RecursionError:
            raise HttpError(400, "the request body is JSON nested too deeply") from None
        if not isinstance(value, dict):
            raise HttpError(400, f"the request body must be a JSON object, got "
                                 f"{type(value).__name__}")
        return value


@dataclass
class Response:
    """What a handler returns: a status, a body (or a ``stream`` of chunks) and headers."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: Dict[str, str] = field(default_factory=dict)
    stream: Optional[Iterable[bytes]] = None


def json_response(value: Any, status: int = 200) -> Response:
    """``value`` as compact JSON (NaN and infinities refused: convert them before)."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    return Response(status, text.encode("utf-8"))


def json_text_response(text: str, status: int = 200) -> Response:
    """JSON already written (e.g. by ``viz.explainer.jsonout.page_json``)."""
    return Response(status, text.encode("utf-8"))


def html_response(text: str) -> Response:
    return Response(200, text.encode("utf-8"), "text/html; charset=utf-8")


def page_response(text: str) -> Response:
    """An app's own page: HTML whose inline script and style may talk to this server only
    (``PAGE_CSP``), and show a page of this server in an iframe."""
    response = html_response(text)
    response.headers["Content-Security-Policy"] = PAGE_CSP
    return response


def file_response(data: bytes, filename: str, content_type: str) -> Response:
    """A download named ``filename`` (letters, digits, ``._-`` only)."""
    safe = "".join(c for c in filename if c.isalnum() or c in "._-") or "download"
    return Response(200, data, content_type,
                    {"Content-Disposition": f'attachment; filename="{safe}"'})


def sse_response(events: Iterator[Tuple[str, Any]]) -> Response:
    """Server-Sent Events from ``(event name, JSON-able data)`` pairs; ``None`` pairs are
    comments that keep the connection alive."""
    def chunks() -> Iterator[bytes]:
        for item in events:
            if item is None:
                yield b": keep-alive\n\n"
                continue
            name, data = item
            text = json.dumps(data, separators=(",", ":"), allow_nan=False)
            yield f"event: {name}\ndata: {text}\n\n".encode("utf-8")
    return Response(200, content_type="text/event-stream", stream=chunks())


Handler = Callable[[Request], Response]


class App:
    """A routing table ``(method, path) -> handler`` plus the app's background ``jobs``."""

    def __init__(self) -> None:
        self.routes: Dict[Tuple[str, str], Handler] = {}
        self.jobs = JobRunner()
        self._shutdown: List[Callable[[], None]] = [self.jobs.shutdown]

    def add(self, method: str, path: str, handler: Handler) -> None:
        key = (method.upper(), path)
        if key in self.routes:
            raise ValueError(f"route {method} {path} is registered twice")
        self.routes[key] = handler

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        """Decorator form of ``add``."""
        def register(handler: Handler) -> Handler:
            self.add(method, path, handler)
            return handler
        return register

    def on_shutdown(self, fn: Callable[[], None]) -> None:
        self._shutdown.append(fn)

    def shutdown(self) -> None:
        for fn in self._shutdown:
            try:
                fn()
            except Exception:  # one failing hook must not keep the others from running
                traceback.print_exc()

    def dispatch(self, request: Request) -> Response:
        handler = self.routes.get((request.method, request.path))
        if handler is None:
            if any(path == request.path for _, path in self.routes):
                raise HttpError(405, f"{request.method} is not allowed on {request.path}")
            raise HttpError(404, f"no such page: {request.path}")
        return handler(request)


def _host_names(host: str, port: int) -> Tuple[str, ...]:
    """The Host header values that name the bound address (IPv6 literals in brackets)."""
    if host in ("127.0.0.1", "localhost"):
        names = {host, "localhost", "127.0.0.1"}
    elif host == "::1":
        names = {"[::1]", "localhost"}
    else:
        names = {f"[{host}]" if ":" in host else host}
    return tuple(sorted(f"{name}:{port}" for name in names))


def _is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


class _Handler(BaseHTTPRequestHandler):
    server: "_HTTPServer"
    timeout = SOCKET_TIMEOUT  # set on the socket by StreamRequestHandler.setup
    server_version = "microgradnn-playground"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        if self.server.owner.verbose:
            super().log_message(format, *args)

    def send_error(self, code: int, message: Optional[str] = None,
                   explain: Optional[str] = None) -> None:
        """http.server's own refusals (bad request line, headers too long) as JSON too."""
        if getattr(self, "request_version", "HTTP/0.9") == "HTTP/0.9":
            self.request_version = "HTTP/1.0"  # a status line even for a garbled request
        self._send(Response(code, _error_body(message or explain or "bad request")))

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.stream is None:
            self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if self.command == "HEAD":
            return
        if response.stream is None:
            self.wfile.write(response.body)
            return
        for chunk in response.stream:
            if self.server.owner.stopping.is_set():
                break
            self.wfile.write(chunk)
            self.wfile.flush()

    def _handle(self) -> None:
        owner = self.server.owner
        try:
            request = owner.check(self)
            response = owner.app.dispatch(request)
        except HttpError as error:
            response = Response(error.status, _error_body(error.message))
        except (ValueError, TypeError) as error:
            response = Response(400, _error_body(str(error).split("\n")[0]))
        except Exception as error:  # a bug: one line to the client, the traceback to stderr
            traceback.print_exc()
            first = str(error).splitlines()[0] if str(error) else ""
            response = Response(500, _error_body(f"internal error: {type(error).__name__}: "
                                                 f"{first}"))
        try:
            self._drain()
            self._send(response)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True

    def _drain(self) -> None:
        """Read (and drop) a refused body of at most ``DRAIN_LIMIT`` bytes, so the client,
        still sending, reads the 413 instead of a reset connection."""
        left = getattr(self, "unread", 0)
        if not 0 < left <= DRAIN_LIMIT:
            return
        try:
            while left > 0:
                chunk = self.rfile.read(min(left, 1 << 16))
                if not chunk:
                    break
                left -= len(chunk)
        except (socket.timeout, OSError):  # a client that stops sending: answer anyway
            pass

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _handle


def _error_body(message: str) -> bytes:
    return json.dumps({"error": " ".join(str(message).split())}).encode("utf-8")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a stalled client's thread never keeps the process alive
    allow_reuse_address = False
    owner: "Server"

    def process_request(self, request: Any, client_address: Any) -> None:
        """One thread per connection, at most ``max_connections`` at once: past that a
        connection gets a 503 at once (so stalled clients cannot take every thread)."""
        if not self.owner.slots.acquire(blocking=False):
            try:
                request.settimeout(1.0)
                body = _error_body("too many connections at once; try again")
                request.sendall(b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: "
                                b"application/json\r\nContent-Length: "
                                + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n"
                                + body)
            except OSError:
                pass
            finally:
                self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.owner.slots.release()
            raise

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up or went silent is not an error worth a traceback."""
        if isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout)):
            return
        super().handle_error(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.owner.slots.release()


class Server:
    """``app`` served on ``host:port`` (port 0: a free one) behind the checks above."""

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0, *,
                 token: Optional[str] = None, max_body: int = MAX_BODY,
                 timeout: float = SOCKET_TIMEOUT, max_connections: int = MAX_CONNECTIONS,
                 verbose: bool = False) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"serve: port must be 0..65535, got {port!r}")
        self.app = app
        self.token = token or secrets.token_urlsafe(24)
        self.max_body = max_body
        self.verbose = verbose
        self.stopping = threading.Event()
        self.slots = threading.BoundedSemaphore(max_connections)
        handler = type("Handler", (_Handler,), {"timeout": timeout})
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server_class = type("HTTPServer", (_HTTPServer,), {"address_family": family})
        try:
            self.httpd = server_class((host, port), handler)
        except OSError as error:
            raise OSError(f"serve: cannot listen on {host}:{port}: {error.strerror or error}") \
                from None
        self.httpd.owner = self
        self.host = host
        self.port = int(self.httpd.server_address[1])
        self.wildcard = host in _WILDCARDS
        self.hosts = _host_names(host, self.port)
        self._thread: Optional[threading.Thread] = None
        self._stopped = False

    @property
    def url(self) -> str:
        """The address to open, token included."""
        shown = "127.0.0.1" if self.wildcard else (f"[{self.host}]" if ":" in self.host
                                                   else self.host)
        return f"http://{shown}:{self.port}/?token={self.token}"

    def check(self, handler: BaseHTTPRequestHandler) -> Request:
        """The request, once it has passed the token, Host, Origin and size checks."""
        parts = urlsplit(handler.path)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        given = query.get("token") or handler.headers.get(TOKEN_HEADER) or ""
        if not hmac.compare_digest(given.encode("utf-8", "replace"),
                                   self.token.encode("utf-8")):
            raise HttpError(403, "missing or wrong token: open the address the server printed")
        host = handler.headers.get("Host", "")
        if not self._host_ok(host):
            raise HttpError(403, f"Host {host[:100]!r} does not name this server "
                                 f"({', '.join(self.hosts)})")
        body = b""
        if handler.command in ("POST", "PUT", "PATCH", "DELETE"):
            origin = handler.headers.get("Origin", "")
            if not hmac.compare_digest(origin.encode("utf-8", "replace"),
                                       f"http://{host}".encode("utf-8", "replace")):
                raise HttpError(403, f"Origin {origin[:100]!r} is not this page's "
                                     f"(http://{host[:100]})")
            body = self._read_body(handler)
        return Request(handler.command, parts.path, query, handler.headers, body)

    def _host_ok(self, host: str) -> bool:
        if host in self.hosts:
            return True
        if not self.wildcard:
            return False
        name, _, port = host.rpartition(":")
        if port != str(self.port):
            return False
        return _is_ip_literal(name) or name in ("localhost", socket.gethostname())

    def _read_body(self, handler: BaseHTTPRequestHandler) -> bytes:
        if handler.headers.get("Transfer-Encoding"):
            raise HttpError(411, "chunked request bodies are not accepted: send Content-Length")
        length_text = handler.headers.get("Content-Length")
        if length_text is None:
            raise HttpError(411, "a request body needs a Content-Length header")
        try:
            length = int(length_text)
        except ValueError:
            raise HttpError(400, f"Content-Length is not a number: {length_text[:40]!r}") \
                from None
        if length < 0:
            raise HttpError(400, f"Content-Length is negative: {length}")
        if length > self.max_body:
            handler.unread = length  # type: ignore[attr-defined]
            raise HttpError(413, f"the request body is {length} bytes; at most "
                                 f"{self.max_body} are accepted")
        body = handler.rfile.read(length)
        if len(body) != length:
            raise HttpError(400, f"the request body ended after {len(body)} of {length} bytes")
        return body

    def start(self) -> "Server":
        """Serve in a background thread (tests, notebooks); returns ``self``."""
        self._thread = threading.Thread(target=self.httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="microgradnn-serve", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until Ctrl-C (or ``stop`` from another thread), then stop."""
        try:
            self.httpd.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop accepting, stop the app's jobs (after their current step), close the socket."""
        if self._stopped:
            return
        self._stopped = True
        self.stopping.set()
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
        self.app.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def warn_if_public(host: str) -> Optional[str]:
    """The warning to print when ``host`` is not a loopback address (None if it is)."""
    if host in ("127.0.0.1", "localhost", "::1"):
        return None
    return (f"warning: listening on {host}: anyone who can reach this machine and learns the "
            f"token can use the app (train, read and save the model); use the default "
            f"127.0.0.1 unless you need this")


def print_banner(server: Server, stream: Any = None) -> None:
    stream = stream or sys.stdout
    print(f"microgradnn serve: open {server.url}  (Ctrl-C stops)", file=stream, flush=True)
