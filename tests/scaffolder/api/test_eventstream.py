"""GET /api/scaffolder/v2/tasks/:id/eventstream: a task's log as Server-Sent Events, resumable and bounded."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client

from scaffolder.models import Run
from tests.scaffolder.factories import EventFactory, RunFactory, StepFactory

pytestmark = pytest.mark.django_db


def url(run: Any) -> str:
    return f"/api/scaffolder/v2/tasks/{run.pk}/eventstream"


def read(response: Any) -> str:
    return b"".join(response.streaming_content).decode()


def messages(text: str) -> list[dict[str, str]]:
    """The stream's messages as {field: value}; comment lines under ":"."""
    out = []
    for block in text.split("\n\n"):
        if not block:
            continue
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        out.append(fields)
    return out


def events_of(text: str) -> list[dict[str, str]]:
    return [message for message in messages(text) if "event" in message]


@pytest.fixture
def quick(settings) -> None:
    settings.PAVED_SCAFFOLDER_EVENTSTREAM_SECONDS = 0.3
    settings.PAVED_SCAFFOLDER_EVENTSTREAM_POLL_SECONDS = 0.02


@pytest.fixture
def finished_run(user) -> tuple[Any, list[Any]]:
    run = RunFactory(created_by=user)
    step = StepFactory(run=run, step_id="fetch")
    events = [
        EventFactory(run=run, step=step, body="one"),
        EventFactory(run=run, step=step, type="status", body="Step fetch completed"),
        EventFactory(run=run, type="completion", body="Run completed"),
    ]
    Run.objects.filter(pk=run.pk).update(status=Run.Status.COMPLETED, finished_at=run.created_at)
    return run, events


def test_the_stream_sends_every_event_in_order_then_ends_after_completion(
    quick, auth_client: Client, finished_run
) -> None:
    run, events = finished_run
    response = auth_client.get(url(run), HTTP_ACCEPT="text/event-stream")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-cache"
    text = read(response)
    sent = events_of(text)
    assert [message["event"] for message in sent] == ["log", "log", "completion"]
    assert [int(message["id"]) for message in sent] == [event.pk for event in events]
    listed = auth_client.get(f"/api/scaffolder/v2/tasks/{run.pk}/events").json()
    assert [json.loads(message["data"]) for message in sent] == listed
    assert text.rstrip("\n").endswith(sent[-1]["data"])


def test_after_and_last_event_id_resume_where_the_client_stopped(quick, auth_client: Client, finished_run) -> None:
    run, events = finished_run
    after = events_of(read(auth_client.get(url(run), {"after": events[0].pk})))
    assert [int(message["id"]) for message in after] == [events[1].pk, events[2].pk]

    # A reconnecting EventSource keeps its URL and sends the last id it received: the header wins.
    resumed = auth_client.get(url(run), {"after": events[0].pk}, HTTP_LAST_EVENT_ID=str(events[1].pk))
    assert [int(message["id"]) for message in events_of(read(resumed))] == [events[2].pk]


def test_a_finished_task_with_nothing_after_ends_at_once(quick, auth_client: Client, finished_run) -> None:
    run, events = finished_run
    started = time.monotonic()
    text = read(auth_client.get(url(run), {"after": events[-1].pk}))

    assert events_of(text) == []
    assert ": the task has finished; nothing more will come" in text
    assert time.monotonic() - started < 0.25


def test_a_running_task_stream_ends_after_its_time_limit_with_a_comment(quick, auth_client: Client, user) -> None:
    run = RunFactory(created_by=user, status=Run.Status.PROCESSING)
    first = EventFactory(run=run, body="working")
    started = time.monotonic()
    text = read(auth_client.get(url(run)))
    elapsed = time.monotonic() - started

    assert [int(message["id"]) for message in events_of(text)] == [first.pk]
    assert text.endswith(": the stream ends after 0.3 s; reconnect with Last-Event-ID to go on\n\n")
    assert 0.3 <= elapsed < 2


@pytest.mark.django_db(transaction=True)
def test_events_written_while_streaming_arrive_and_completion_ends_it(settings, auth_client: Client, user) -> None:
    settings.PAVED_SCAFFOLDER_EVENTSTREAM_SECONDS = 10
    settings.PAVED_SCAFFOLDER_EVENTSTREAM_POLL_SECONDS = 0.02
    run = RunFactory(created_by=user, status=Run.Status.PROCESSING)

    def write_later() -> None:
        try:
            time.sleep(0.2)
            EventFactory(run=run, body="later")
            time.sleep(0.1)
            with transaction.atomic():  # as the engine finishes a run: its status and its last event together
                Run.objects.filter(pk=run.pk).update(status=Run.Status.COMPLETED, finished_at=run.created_at)
                EventFactory(run=run, type="completion", body="Run completed")
        finally:
            connection.close()

    writer = threading.Thread(target=write_later)
    writer.start()
    started = time.monotonic()
    text = read(auth_client.get(url(run)))
    writer.join()

    assert [message["event"] for message in events_of(text)] == ["log", "completion"]
    assert [json.loads(message["data"])["body"]["message"] for message in events_of(text)] == ["later", "Run completed"]
    assert time.monotonic() - started < 5


def test_anonymous_is_401(finished_run) -> None:
    run, _ = finished_run
    response = Client().get(url(run), HTTP_ACCEPT="text/event-stream")

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["name"] == "AuthenticationError"


def test_someone_elses_task_is_404_as_json_even_to_an_event_source(auth_client: Client) -> None:
    response = auth_client.get(url(RunFactory()), HTTP_ACCEPT="text/event-stream")

    assert response.status_code == 404
    assert response.json()["error"]["name"] == "NotFoundError"


@pytest.mark.parametrize(
    ("query", "headers", "name"),
    [
        ({"after": "x"}, {}, "after"),
        ({"after": "-1"}, {}, "after"),
        ({"after": "1e3"}, {}, "after"),
        ({}, {"HTTP_LAST_EVENT_ID": "abc"}, "Last-Event-ID"),
        ({}, {"HTTP_LAST_EVENT_ID": "1" * 101}, "Last-Event-ID"),
        ({}, {"HTTP_LAST_EVENT_ID": "٣"}, "Last-Event-ID"),
    ],
)
def test_an_event_id_that_is_not_a_whole_number_is_400(auth_client: Client, finished_run, query, headers, name) -> None:
    run, _ = finished_run
    response = auth_client.get(url(run), query, **headers)

    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(f"{name} must be an event id (a whole number)")


def test_a_task_cancelled_before_it_ran_sends_its_log_and_ends(quick, auth_client: Client, user) -> None:
    run = RunFactory(created_by=user)
    cancelled = EventFactory(run=run, type="status", body="Cancelled by alice")
    Run.objects.filter(pk=run.pk).update(status=Run.Status.CANCELLED, finished_at=run.created_at)
    started = time.monotonic()
    text = read(auth_client.get(url(run)))

    assert [int(message["id"]) for message in events_of(text)] == [cancelled.pk]
    assert text.endswith(": the task has finished; nothing more will come\n\n")
    assert time.monotonic() - started < 0.25
