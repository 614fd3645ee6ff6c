"""Remote sources for location tests: a local HTTP server and bare git repositories (helpers, not factories)."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

Route = tuple[int, dict[str, str], bytes]


@contextmanager
def http_server(routes: dict[str, Route]) -> Iterator[str]:
    """Serve `routes` (path -> status, headers, body) on 127.0.0.1; yields the base URL. Routes may be edited live."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, headers, body = routes.get(self.path, (404, {}, b"not found"))
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def git(*args: str, cwd: Path | None = None) -> str:
    env = {
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
        "PATH": "/usr/bin:/bin:/usr/local/bin",
    }
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, check=True, text=True)
    return done.stdout


def bare_repo(root: Path, files: dict[str, str], *, name: str = "service.git", branch: str = "main") -> Path:
    """A bare repository under `root` with one commit holding `files`; commit more with `commit_files`."""
    repo = root / name
    git("init", "--quiet", "--bare", f"--initial-branch={branch}", str(repo))
    commit_files(repo, files, branch=branch)
    return repo


def commit_files(repo: Path, files: dict[str, str], *, branch: str = "main", message: str = "update") -> None:
    work = repo.parent / f"{repo.name}-work"
    if not work.exists():
        git("clone", "--quiet", str(repo), str(work))
        git("checkout", "--quiet", "-B", branch, cwd=work)
    for path, content in files.items():
        target = work / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    git("add", "-A", cwd=work)
    git("commit", "--quiet", "--allow-empty", "-m", message, cwd=work)
    git("push", "--quiet", "origin", f"HEAD:{branch}", cwd=work)
