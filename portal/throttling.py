"""The API's request throttles: a per-process guard against a runaway script, cheap at thousands of requests a second.

DRF's own throttles keep every request's timestamp in the cache and pickle the whole list on every request: at the
rates a catalog client reaches (hundreds of requests a second from one token) that list holds tens of thousands of
floats and costs more CPU than the request itself. These keep two counters per client instead (this window and the
previous one, weighted by how much of the previous window still overlaps the last `duration` seconds: the usual
sliding-window counter), in the process's memory, under a lock.

The rates are per web process, as DRF's default local-memory cache already made them: with `make serve`'s two
processes a client gets up to twice `PAVED_THROTTLE_USER`. A shared counter (Redis) would make the limit exact across
processes at the price of a round trip per request; as a guard rather than a quota, per process is enough.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from rest_framework import throttling

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView

_lock = threading.Lock()
# scope → client key → [window number, count in that window, count in the previous window]
_windows: dict[str, dict[str, list[int]]] = {}
_MAX_CLIENTS = 100_000  # forget every client of a scope beyond this many (an address scan must not grow memory)


def allow(*, scope: str, key: str, num_requests: int, duration: int, now: float | None = None) -> float | None:
    """None when the request is allowed (and counted); otherwise the seconds to wait before the next one."""
    now = time.time() if now is None else now
    window, into = divmod(now, duration)
    window_number = int(window)
    with _lock:
        clients = _windows.setdefault(scope, {})
        state = clients.get(key)
        if state is None:
            if len(clients) >= _MAX_CLIENTS:
                clients.clear()
            state = clients[key] = [window_number, 0, 0]
        if state[0] != window_number:
            state[2] = state[1] if state[0] == window_number - 1 else 0
            state[0], state[1] = window_number, 0
        weighted = state[1] + state[2] * (1 - into / duration)
        if weighted >= num_requests:
            return max(duration - into, 0.001)
        state[1] += 1
        return None


def reset() -> None:
    """Forget every counter (tests)."""
    with _lock:
        _windows.clear()


class _CountingThrottle(throttling.SimpleRateThrottle):
    """DRF's rate parsing and cache keys; `allow` for the counting."""

    _wait: float | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        num_requests, duration = self.parse_rate(self.rate)
        if num_requests is None or duration is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self._wait = allow(scope=self.scope or "", key=key, num_requests=num_requests, duration=duration)
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait


class UserRateThrottle(_CountingThrottle, throttling.UserRateThrottle):
    scope = "user"


class AnonRateThrottle(_CountingThrottle, throttling.AnonRateThrottle):
    scope = "anon"


def user_request_allowed(user_id: int) -> bool:
    """The `user` throttle for a request authenticated outside DRF (the lean entity reads); same counters, same key."""
    throttle = UserRateThrottle()
    num_requests, duration = throttle.parse_rate(throttle.rate)
    if num_requests is None or duration is None:
        return True
    key = throttle.cache_format % {"scope": throttle.scope, "ident": user_id}
    return allow(scope="user", key=key, num_requests=num_requests, duration=duration) is None
