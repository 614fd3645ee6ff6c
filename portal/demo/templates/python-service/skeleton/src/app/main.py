"""The HTTP service: `/healthz` answers 200 while the process can serve."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import make_server

from app.logging_setup import SERVICE, configure

log = logging.getLogger(SERVICE)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def _json(start_response: StartResponse, status: str, body: dict[str, Any]) -> Iterable[bytes]:
    payload = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "/")
    if path == "/healthz":
        return _json(start_response, "200 OK", {"status": "ok", "service": SERVICE})
    if path == "/":
        return _json(start_response, "200 OK", {"service": SERVICE})
    return _json(start_response, "404 Not Found", {"error": "not found"})


def main() -> None:
    configure()
    port = int(os.environ.get("PORT", "8080"))
    with make_server("0.0.0.0", port, application) as server:  # noqa: S104 - a container listens on all addresses
        log.info("listening", extra={"fields": {"port": port}})
        server.serve_forever()
