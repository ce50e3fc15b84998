"""How the UI's HTTP responses leave Flask: cache headers and fast compression.

- Files that Dash addresses with a version in the URL (``/assets/x.js?m=<mtime>``,
  ``/_favicon.ico?v=<version>``) never change under that URL: the browser may keep
  them a year without asking again (``immutable``), so a page load sends no
  revalidation requests for them. Dash already does this for its fingerprinted
  ``_dash-component-suites`` bundles; the index page itself is never cached.
- Callback answers (a dashboard's HTML, figures) are gzipped here at level 1:
  Spyglass's outer gzip middleware runs at level 9, which on a few hundred kB of
  JSON costs more server time than the transfer saves on any network; it leaves a
  response that is already encoded alone.
- Script and style files are gzipped once (level 9) and kept: a browser's first
  visit fetches 2.7 MB of them, which the outer middleware would otherwise
  compress anew for every browser.

Usage: ``install(dash_app.server, "/")`` once, after the Dash app is created.
"""

from __future__ import annotations

import gzip
import threading

import flask

IMMUTABLE = "public, max-age=31536000, immutable"
MIN_COMPRESS_BYTES = 4096
_COMPRESSIBLE = ("application/json", "text/html", "text/plain")
_STATIC_TYPES = ("text/javascript", "application/javascript", "text/css")


class _GzipFiles:
    """Compressed bodies of static files, by (path, validator): each compressed once."""

    def __init__(self, max_entries: int = 256):
        self._data: dict[tuple[str, str], bytes] = {}
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, path: str, validator: str, body: bytes) -> bytes:
        key = (path, validator)
        with self._lock:
            hit = self._data.get(key)
        if hit is not None:
            return hit
        packed = gzip.compress(body, compresslevel=9, mtime=0)
        with self._lock:
            if len(self._data) >= self._max:
                self._data.clear()  # new versions of files replaced the old: start over
            self._data[key] = packed
        return packed


def install(server: flask.Flask, prefix: str = "/") -> None:
    """Add the after-request hook to the Dash app's Flask ``server``."""
    assets = prefix.rstrip("/") + "/assets/"
    suites = prefix.rstrip("/") + "/_dash-component-suites/"
    favicon = prefix.rstrip("/") + "/_favicon.ico"
    files = _GzipFiles()

    @server.after_request
    def _policy(resp: flask.Response) -> flask.Response:
        req = flask.request
        if resp.status_code in (200, 304) and (
                (req.path.startswith(assets) and req.args.get("m")) or
                (req.path == favicon and req.args.get("v"))):
            resp.headers["Cache-Control"] = IMMUTABLE
        gzip_ok = "gzip" in req.headers.get("Accept-Encoding", "")
        if (resp.status_code == 200 and gzip_ok and resp.mimetype in _STATIC_TYPES
                and req.path.startswith((assets, suites)) and "Content-Encoding" not in resp.headers):
            # Dash's bundles carry their version in the path and send no validator
            validator = (resp.headers.get("ETag") or resp.headers.get("Last-Modified")
                         or (req.full_path if req.path.startswith(suites) else ""))
            resp.direct_passthrough = False
            body = resp.get_data()
            if len(body) >= MIN_COMPRESS_BYTES and validator:
                resp.set_data(files.get(req.path, validator, body))
                resp.headers["Content-Encoding"] = "gzip"
                resp.headers["Content-Length"] = str(len(resp.get_data()))
                resp.vary.add("Accept-Encoding")
            return resp
        if (resp.status_code == 200 and not resp.direct_passthrough
                and "Content-Encoding" not in resp.headers
                and resp.mimetype in _COMPRESSIBLE
                and "gzip" in req.headers.get("Accept-Encoding", "")):
            body = resp.get_data()
            if len(body) >= MIN_COMPRESS_BYTES:
                resp.set_data(gzip.compress(body, compresslevel=1))
                resp.headers["Content-Encoding"] = "gzip"
                resp.headers["Content-Length"] = str(len(resp.get_data()))
                resp.vary.add("Accept-Encoding")
        return resp
