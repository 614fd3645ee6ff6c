from __future__ import annotations

import uuid

import pytest

from portal.models import Heartbeat
from portal.tasks import heartbeat
from tests.worker import running_worker, wait_for, worker_log

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_real_worker_consumes_a_task_from_the_broker_and_writes_to_the_database():
    name = f"it-{uuid.uuid4().hex[:8]}"
    with running_worker() as process:
        heartbeat.delay(name)
        done = wait_for(lambda: Heartbeat.objects.filter(name=name).exists(), timeout=90)
        assert done, f"the worker never ran the task; its log:\n{worker_log(process)}"
        assert process.poll() is None, "the worker died"
    beat = Heartbeat.objects.get(name=name)
    assert beat.worker
