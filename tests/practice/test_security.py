"""RELIABILITY.md 17–19: login throttling, password hashing and length, idle sessions, deploy checks."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from config import settings as configured
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def _login(client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_argon2_is_the_first_hasher_and_passwords_need_12_characters(db):
    assert configured.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    with pytest.raises(ValidationError, match="at least 12 characters"):
        validate_password("Xk7#pq2!mZ")
    validate_password("a much longer passphrase")


def _stored_expiry(client):
    return Session.objects.get(session_key=client.session.session_key).expire_date


def test_sessions_end_after_30_idle_minutes_and_a_page_view_is_a_write_at_most_once_a_minute(client, front_desk):
    assert configured.SESSION_COOKIE_AGE == 30 * 60
    assert not getattr(configured, "SESSION_SAVE_EVERY_REQUEST", False)  # every GET would be a write
    with time_machine.travel(datetime(2030, 1, 7, 9, 0, tzinfo=UTC), tick=False) as clock:
        assert _login(client, "frontdesk", PASSWORD).status_code == 302
        client.get(reverse("diary"))
        first = _stored_expiry(client)
        clock.shift(timedelta(seconds=30))
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("diary")).status_code == 200
        assert not [q for q in queries if "django_session" in q["sql"] and not q["sql"].startswith("SELECT")]
        assert _stored_expiry(client) == first
        # Used every 29 minutes, the session lives on: each minute-old visit moves the expiry.
        for _ in range(3):
            clock.shift(timedelta(minutes=29))
            assert client.get(reverse("diary")).status_code == 200
        assert _stored_expiry(client) == datetime(2030, 1, 7, 10, 27, 30, tzinfo=UTC) + timedelta(minutes=30)
        # Thirty-one idle minutes later it has ended.
        clock.shift(timedelta(minutes=31))
        response = client.get(reverse("diary"))
        assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_five_failures_lock_that_username_from_that_address_only(client, front_desk, admin_user):
    for _ in range(4):
        assert _login(client, "frontdesk", "wrong password!").status_code == 200
    assert _login(client, "frontdesk", "wrong password!").status_code == 429  # the fifth failure locks
    locked = _login(client, "frontdesk", PASSWORD)
    assert locked.status_code == 429
    assert "locked" in locked.content.decode()
    # A colleague behind the same address still logs in, and so does the same user elsewhere.
    assert _login(client, "admin", PASSWORD).status_code == 302
    client.logout()
    assert _login(client, "frontdesk", PASSWORD, ip="10.0.0.2").status_code == 302


def test_a_good_login_lands_on_the_diary(client, front_desk):
    response = _login(client, "frontdesk", PASSWORD)
    assert response.status_code == 302 and response.url == reverse("home")
    assert client.get(response.url).url == reverse("diary")


def test_logout_is_a_post(client, front_desk):
    client.force_login(front_desk)
    assert client.get(reverse("logout")).status_code == 405
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("diary")).status_code == 302


def test_check_deploy_passes_with_production_settings():
    env = {
        **os.environ,
        "DJANGO_SECRET_KEY": "x7!kq2-" + "a8f3k1m9z0" * 5,
        "DJANGO_HTTPS": "true",
        "DJANGO_ALLOWED_HOSTS": "diary.example.com",
        "DJANGO_STATIC_MANIFEST": "true",
        "DJANGO_DEBUG": "false",
        "FIELD_ENCRYPTION_KEYS": "q6r2Y2o1mIWcPAXFxJ3n2h9wqQpM1c6d1cB3VqXg2kE=",
        "CALENDAR_FEED_KEYS": "2026a:" + "Zq4v8LrT1xw0Nc6yPb3k" * 2,
        "PUBLIC_BASE_URL": "https://diary.example.com",
    }
    result = subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_fails_with_the_development_defaults():
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("DJANGO_")
           and key not in ("FIELD_ENCRYPTION_KEYS", "CALENDAR_FEED_KEYS", "PUBLIC_BASE_URL")}
    result = subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stdout + result.stderr
    assert "telehealth.W001" in result.stdout + result.stderr
    assert "scheduling.W001" in result.stdout + result.stderr
    assert "scheduling.W002" in result.stdout + result.stderr  # client links would point at 127.0.0.1
