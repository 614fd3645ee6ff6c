"""Parsing many local files at once: the YAML, placeholders and validation of a large `file` location, spread over
forked processes.

Parsing is CPU-bound Python (one core for a whole location: ~10 s of 100,000 entities on a 2-core box) while the
database waits for the write. A refresh of many files parses them in `PAVED_CATALOG_PARSE_PROCESSES` processes: the
refreshing one and children forked from it, which share its loaded kind registry and validators (a process started
afresh would need Django's start-up, as long as the parse it would share) and the bytes it read. A child pickles
what it parsed into a temporary file; results come back in the order asked, so a refresh reads exactly what a serial
one does. A child that fails in any way (killed, out of memory, a bug) costs time, not correctness: its files are
parsed again in the refreshing process.

`os.fork` itself rather than `multiprocessing`: a Celery prefork worker is a daemonic process, which
`multiprocessing` forbids to have children, and nothing here needs more than fork, a file and wait.

Only the file reader parses here: its parse needs nothing but the path and the bytes (placeholders read siblings
under the same roots, URLs go through the fetch guard in the child). Git and URL readers keep what they fetched in
the reader, so they parse in the refreshing process.

A forked child holds copies of the parent's database connections. It must never use them (one socket, two protocol
states) nor free them (libpq would say goodbye to the server on the parent's behalf): `_in_child` keeps them
referenced and takes them out of Django's hands, so a child that did query would open its own; it ends with
`os._exit`, which runs no clean-up of the parent's.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import suppress
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from typing import Any, Final, Protocol

import structlog
from django.conf import settings
from django.db import connections

from catalog.descriptors import DEFAULT_LIMITS, ParseResult

from .base import Reader
from .file import FileReader

log = structlog.get_logger(__name__)

# Fewer files than this parse in the refreshing process: a fork costs ~10-30 ms, about one file's parse.
MIN_FILES: Final = 8

_inherited: list[Any] = []


def processes() -> int:
    """How many processes parse a large file location (`PAVED_CATALOG_PARSE_PROCESSES`; 1: the refreshing one)."""
    return max(1, int(settings.PAVED_CATALOG_PARSE_PROCESSES))


def can_fork() -> bool:
    """Forking copies only the calling thread: a process running other threads (a threaded web server) could fork a
    lock one of them holds, so only a single-threaded process (a Celery worker's child, a command) forks."""
    return hasattr(os, "fork") and threading.active_count() == 1


class Parser(Protocol):
    """Parses windows of `(path, bytes)` of one reader's files, in order; a context manager that ends what it
    started."""

    def __enter__(self) -> Parser: ...

    def __exit__(self, *exc: object) -> None: ...

    def parse_many(self, items: Sequence[tuple[str, bytes]]) -> Iterator[ParseResult]: ...


class SerialParser:
    """Parses in the refreshing process, with the reader itself (git and URL readers keep state between files)."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader

    def __enter__(self) -> SerialParser:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def parse_many(self, items: Sequence[tuple[str, bytes]]) -> Iterator[ParseResult]:
        for path, data in items:
            yield self.reader.parse(path, data, limits=DEFAULT_LIMITS)


def parser_for(reader: Reader) -> Parser:
    """The parser of a refresh's files of `reader`'s type: file locations may fork (`FileParser`), others not."""
    if isinstance(reader, FileReader) and processes() > 1:
        return FileParser(reader)
    return SerialParser(reader)


class FileParser:
    """Parses windows of a file location's `(path, bytes)`: a large one is cut into one part per process, the
    children parse the first parts while this process parses the last, then it takes theirs.

    The children are forked once, at the first large window, and serve every window after it through pipes; they
    end with the parser (`close`, or the `with` block). Forking again for each window would cost more than it
    saves: every fork makes the refreshing process's memory copy-on-write again, and the parsed entities it
    accumulates are most of it.
    """

    def __init__(self, reader: FileReader, *, workers: int | None = None) -> None:
        self.reader = reader
        self.workers = processes() if workers is None else workers
        self._children: list[_Child] = []
        self._started = False

    def __enter__(self) -> FileParser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the children: their job pipes close, they leave, and they are waited for."""
        children, self._children = self._children, []
        for child in children:
            child.close()

    def parse_many(self, items: Sequence[tuple[str, bytes]]) -> Iterator[ParseResult]:
        """The ParseResult of each `(path, bytes)`, in order."""
        if self.workers < 2 or len(items) < MIN_FILES or not self._start():
            yield from self._parse(items)
            return
        children = [child for child in self._children if child.alive]
        size = -(-len(items) // (len(children) + 1))
        parts = [items[start : start + size] for start in range(0, len(items), size)]
        theirs = list(zip(children, parts[:-1], strict=False))  # at most one part per child: the last is ours
        sent = [child.send(part) for child, part in theirs]
        own = self._parse(parts[-1])
        for (child, part), ok in zip(theirs, sent, strict=True):
            results = child.receive(len(part)) if ok else None
            if results is None:
                log.warning("catalog.location.parse_child_failed", files=len(part))
                results = self._parse(part)
            yield from results
        yield from own

    def _start(self) -> bool:
        """Fork the children on the first large window; False (parse here) when this process may not fork or none
        could be started."""
        if not self._started:
            self._started = True
            if not can_fork():
                threads = sorted(thread.name for thread in threading.enumerate())
                log.info("catalog.location.parse_in_process", reason="other threads run here", threads=threads)
                return False
            for _ in range(self.workers - 1):
                child = _Child.fork(siblings=self._children)
                if child is None:
                    break
                self._children.append(child)
            log.info("catalog.location.parse_processes", processes=len(self._children) + 1)
        return any(child.alive for child in self._children)

    def _parse(self, items: Sequence[tuple[str, bytes]]) -> list[ParseResult]:
        return [self.reader.parse(path, data, limits=DEFAULT_LIMITS) for path, data in items]


class _Child:
    """A forked parsing process and the two pipes to it: jobs (lists of `(path, bytes)`) in, results out."""

    def __init__(self, pid: int, jobs: Connection, results: Connection) -> None:
        self.pid = pid
        self.jobs = jobs
        self.results = results
        self.alive = True

    @classmethod
    def fork(cls, *, siblings: Sequence[_Child] = ()) -> _Child | None:
        """Start a child. It closes the pipe ends of the `siblings` forked before it, which it inherited: holding
        a sibling's job pipe open would keep that sibling from ever seeing the end of its jobs."""
        job_out, job_in = Pipe(duplex=False)
        result_out, result_in = Pipe(duplex=False)
        try:
            pid = os.fork()
        except OSError as exc:
            log.warning("catalog.location.parse_fork_failed", error=str(exc))
            for end in (job_out, job_in, result_out, result_in):
                end.close()
            return None
        if pid == 0:  # the child: serve jobs until the pipe closes, then leave without running the parent's clean-up
            code = 1
            try:
                job_in.close()
                result_out.close()
                for sibling in siblings:
                    sibling.jobs.close()
                    sibling.results.close()
                _in_child()
                _serve(job_out, result_in)
                code = 0
            finally:
                os._exit(code)
        job_out.close()
        result_in.close()
        return cls(pid, job_in, result_out)

    def send(self, items: Sequence[tuple[str, bytes]]) -> bool:
        if self.alive:
            try:
                self.jobs.send(list(items))
            except OSError:  # the child is gone (its end of the pipe closed)
                self.alive = False
        return self.alive

    def receive(self, count: int) -> list[ParseResult] | None:
        """The child's results for the job sent, or None when it died or answered something else."""
        try:
            results = self.results.recv()
        except (EOFError, OSError, pickle.UnpicklingError):
            results = None
        if not isinstance(results, list) or len(results) != count:
            self.alive = False
            return None
        return results

    def close(self) -> None:
        self.jobs.close()
        self.results.close()
        with suppress(ChildProcessError):  # reaped already (SIGCHLD ignored)
            os.waitpid(self.pid, 0)


def _serve(jobs: Connection, results: Connection) -> None:
    reader = FileReader()
    while True:
        try:
            items = jobs.recv()
        except EOFError:
            return
        results.send([reader.parse(path, data, limits=DEFAULT_LIMITS) for path, data in items])


def _in_child() -> None:
    """A new child: the parent's connections stay referenced (never freed here) but out of use; what the parent had
    built is left out of the collector's passes (walking it would copy its memory pages); the signals the parent
    handles (a Celery worker's shutdown) end the child as they would any process."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    gc.freeze()
    for connection in connections.all(initialized_only=True):
        _inherited.append(connection.connection)
        connection.connection = None
        connection.in_atomic_block = False
        connection.savepoint_ids = []
        connection.needs_rollback = False
