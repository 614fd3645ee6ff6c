"""Portal tasks: the heartbeat that proves a worker consumes from the broker."""

from __future__ import annotations

import socket

from celery import shared_task

from portal import services


@shared_task(name="portal.heartbeat", ignore_result=True)
def heartbeat(name: str = "worker") -> None:
    """Idempotent: it only moves the heartbeat's timestamp forward."""
    services.heartbeat_record(name=name, worker=socket.gethostname())
