"""RELIABILITY.md 5 with real moving parts: a Celery worker on Redis gets the same send task twice (and a third
time from the commit hook) and the provider is called once. Runs where REDIS_URL is set (CI)."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from config.celery_app import app as celery_app
from reminders.models import Channel, Kind, Message, MessageStatus
from reminders.tasks import message_send
from tests.conftest import sydney

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL); CI always has it"),
]


def _database_url() -> str:
    """The URL of the test database this test process uses, for the worker process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{host}:{port}/{db['NAME']}"


@pytest.fixture
def worker(tmp_path):
    queue = f"test-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    env = {**os.environ, "DATABASE_URL": _database_url(), "SMS_BACKEND": "console",
           "REDIS_URL": os.environ["REDIS_URL"], "DJANGO_SETTINGS_MODULE": "config.settings"}
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603 - our own Celery app
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--concurrency=1",
             "--without-heartbeat", "--without-mingle", "--without-gossip", "-Q", queue, "--loglevel=INFO"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "ready." not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the worker did not start:\n" + log.read_text()
            time.sleep(0.2)
        yield queue, log
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_the_same_send_task_delivered_twice_calls_the_provider_once(worker, book, practitioner_a, client_record):
    queue, log = worker
    appointment = book(practitioner_a, sydney(2030, 3, 4, 10))
    message = Message.objects.create(appointment=appointment, client=client_record, channel=Channel.SMS,
                                     kind=Kind.USUAL, key="worker-test", recipient="+61412345678",
                                     body="Worker test reminder", credits=0)
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        message_send.apply_async(args=[message.pk], queue=queue)
        message_send.apply_async(args=[message.pk], queue=queue)  # a duplicate delivery
    finally:
        celery_app.conf.task_always_eager = eager
    deadline = time.monotonic() + 60
    while log.read_text().count("succeeded in") < 2:
        assert time.monotonic() < deadline, "the worker did not run both tasks:\n" + log.read_text()
        time.sleep(0.2)
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert log.read_text().count("Worker test reminder") == 1, log.read_text()
    assert settings.CELERY_BROKER_URL.startswith("redis://")
