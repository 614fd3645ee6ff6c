"""A gunicorn configuration that measures where Paved's web processes spend a request, for the catalog benchmark
(tests/bench/bench_catalog_http.py --profile DIR) and anyone tuning `make serve`:

    GUNICORN_CMD_ARGS="--config scripts/wsgi_profile.py" PAVED_PROFILE_DIR=/tmp/profile make serve

`make serve`'s own options (workers, worker class, threads) still apply: only hooks are added. Each request is
grouped by its `X-Bench-Shape` header ("other" without one). Per shape and worker process it records:

- timers: wall-clock seconds inside the WSGI call (and the CPU seconds of its thread, which a busy machine inflates
  less than wall-clock time) and inside chosen stages (token authentication, throttling, the
  DRF view, the catalog's page query, relation assembly, rendering, facets, opening a database connection) and
  database time and query count (Django's execute wrapper); written to timers-<pid>.json when the worker exits;
- with PAVED_PROFILE_CPROFILE=1, a cProfile of every request (which inflates the timers: run it separately), written
  to cprofile-<shape>-<pid>.prof when the worker exits;
- the SQL each shape ran, with its parameters inlined, the first time it was seen: sql-<pid>.jsonl, appended at once
  so that the plans can be read while the database still exists.

Stages are inclusive and may nest (the page query runs inside the view); scripts/profile_report.py subtracts them.
"""

from __future__ import annotations

import cProfile
import importlib
import json
import os
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from functools import wraps
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SHAPE_HEADER = "HTTP_X_BENCH_SHAPE"
MAX_SHAPE_LENGTH = 80
# Inclusive stages: "module:attribute" or "module:Class.method". A target that no longer exists is skipped and named
# in the dump, so the profile survives refactoring of the code it measures.
STAGES: dict[str, str] = {
    "token_auth": "portal.services:apitoken_authenticate",
    "session_auth": "rest_framework.authentication:SessionAuthentication.authenticate",
    "throttle": "rest_framework.throttling:SimpleRateThrottle.allow_request",
    "drf_view": "rest_framework.views:APIView.dispatch",
    "drf_initial": "rest_framework.views:APIView.initial",
    "query_page": "catalog.query:query_page",
    "count": "django.db.models.query:QuerySet.count",
    "entity_json": "catalog.selectors:entity_list_json",
    "by_name_lookup": "catalog.selectors:entity_get_by_name",
    "facets": "catalog.query:facet_counts",
    "render_json": "rest_framework.renderers:JSONRenderer.render",
    "render_template": "django.template.backends.django:Template.render",
    "db_connect": "django.db.backends.base.base:BaseDatabaseWrapper.connect",
}

_lock = threading.Lock()
_local = threading.local()
# shape -> stage -> list of per-request seconds (summed within the request)
_timers: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
_profiles: dict[tuple[str, int], cProfile.Profile] = {}
_seen_sql: set[tuple[str, str]] = set()
_missing: list[str] = []


def _directory() -> Path:
    raw = os.environ.get("PAVED_PROFILE_DIR", "")
    if not raw:
        raise RuntimeError("scripts/wsgi_profile.py needs PAVED_PROFILE_DIR: the folder its measurements go to")
    path = Path(raw)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _add(stage: str, seconds: float) -> None:
    current = getattr(_local, "stages", None)
    if current is not None:
        current[stage] = current.get(stage, 0.0) + seconds


def _timed(stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        # Only the outermost call of a stage counts, so recursion and super() calls are not counted twice.
        depth = getattr(_local, "depth", None)
        if depth is None:
            return function(*args, **kwargs)
        if depth.get(stage):
            return function(*args, **kwargs)
        depth[stage] = 1
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            _add(stage, time.perf_counter() - started)
            depth[stage] = 0

    return timed


def _patch(stage: str, target: str) -> None:
    module_name, _, attribute = target.partition(":")
    try:
        owner: Any = importlib.import_module(module_name)
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part)
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
    except (ImportError, AttributeError, KeyError):
        _missing.append(f"{stage}: {target}")
        return
    setattr(owner, name, _timed(stage, original))


def _sql_wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        elapsed = time.perf_counter() - started
        _add("db", elapsed)
        _add("db_queries", 1.0)
        shape = getattr(_local, "shape", "other")
        if (shape, sql) not in _seen_sql:
            _record_sql(shape, sql, params, many, context, elapsed)


def _record_sql(shape: str, sql: str, params: Any, many: bool, context: dict[str, Any], elapsed: float) -> None:
    with _lock:
        if (shape, sql) in _seen_sql:
            return
        _seen_sql.add((shape, sql))
    literal = sql
    if not many and params is not None:
        try:
            literal = context["connection"].ops.compose_sql(sql, params)
        except Exception:  # a statement we cannot inline is kept with its placeholders
            literal = sql
    line = {"shape": shape, "sql": literal, "seconds": elapsed, "pid": os.getpid()}
    with (_directory() / f"sql-{os.getpid()}.jsonl").open("a") as out:
        out.write(json.dumps(line) + "\n")


def profiled(application: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """`application` measured per request as the module docstring says."""
    from django.db import connection

    use_cprofile = os.environ.get("PAVED_PROFILE_CPROFILE") == "1"

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        shape = str(environ.get(SHAPE_HEADER, "other"))[:MAX_SHAPE_LENGTH] or "other"
        _local.shape, _local.stages, _local.depth = shape, {}, {}
        profile = None
        if use_cprofile:
            with _lock:
                profile = _profiles.setdefault((shape, threading.get_ident()), cProfile.Profile())
            profile.enable()
        started, cpu_started = time.perf_counter(), time.thread_time()
        try:
            with connection.execute_wrapper(_sql_wrapper):
                body = list(application(environ, start_response))
        finally:
            elapsed = time.perf_counter() - started
            if profile is not None:
                profile.disable()
            stages, _local.stages, _local.depth = _local.stages, None, None
            stages["wsgi"] = elapsed
            stages["wsgi_cpu"] = time.thread_time() - cpu_started
            with _lock:
                for stage, seconds in stages.items():
                    _timers[shape][stage].append(seconds)
                _timers[shape]["requests"].append(1.0)
        return iter(body)

    return wsgi


def dump() -> None:
    """Write this process's timers and profiles to PAVED_PROFILE_DIR."""
    directory, pid = _directory(), os.getpid()
    with _lock:
        timers = {shape: dict(stages) for shape, stages in _timers.items()}
        profiles = dict(_profiles)
    (directory / f"timers-{pid}.json").write_text(json.dumps({"missing": _missing, "shapes": timers}))
    by_shape: dict[str, list[cProfile.Profile]] = defaultdict(list)
    for (shape, _thread), profile in profiles.items():
        by_shape[shape].append(profile)
    for shape, shape_profiles in by_shape.items():
        safe = "".join(char if char.isalnum() or char in "-_" else "_" for char in shape)
        first, *rest = shape_profiles
        first.create_stats()
        import pstats

        stats = pstats.Stats(first)
        for other in rest:
            other.create_stats()
            stats.add(other)
        stats.dump_stats(str(directory / f"cprofile-{safe}-{pid}.prof"))


# gunicorn hooks: names gunicorn reads from a configuration file.


def post_worker_init(worker: Any) -> None:
    _directory()
    for stage, target in STAGES.items():
        _patch(stage, target)
    worker.wsgi = profiled(worker.wsgi)


def worker_exit(server: Any, worker: Any) -> None:
    dump()
