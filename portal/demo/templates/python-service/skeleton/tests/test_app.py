from __future__ import annotations

import json
import logging
from typing import Any

from app.logging_setup import JsonFormatter
from app.main import application


def call(path: str) -> tuple[str, dict[str, Any]]:
    seen: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"] = status

    body = b"".join(application({"PATH_INFO": path}, start_response))
    return seen["status"], json.loads(body)


def test_healthz_answers_ok() -> None:
    assert call("/healthz") == ("200 OK", {"status": "ok", "service": "${{ values.name }}"})


def test_logs_are_json() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    assert json.loads(JsonFormatter().format(record))["message"] == "hello"
