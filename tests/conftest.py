"""Personas and practice data shared by the whole suite."""

import importlib
from datetime import time

import pytest
from django.contrib.auth.models import Group, User

from practice import roles
from practice.models import Client, Location, Practice, Practitioner, WorkingHours
from scheduling.models import AppointmentType

pytest_plugins = ["tests.zoom_fixtures"]  # the Zoom emulator, for telehealth and reminders tests

PASSWORD = "correct-horse-battery"

# Tasks run inline at commit in tests; tests/reminders/test_celery_worker.py uses a real worker instead.
from config.celery_app import app as celery_app  # noqa: E402

celery_app.conf.task_always_eager = True


def ensure_roles() -> None:
    """Transactional tests (threads, live_server) flush the tables, data-migration rows included."""
    if not Group.objects.filter(name=roles.PRACTICE_ADMIN).exists():
        from django.apps import apps

        roles.grant_permissions(apps, importlib.import_module("scheduling.migrations.0003_roles").ROLES)


def make_user(username: str, role: str | None) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD, first_name=username.title())
    if role:
        ensure_roles()
        user.groups.add(Group.objects.get(name=role))
    return user


def make_practitioner(username: str, location: Location, *, name: str | None = None) -> Practitioner:
    practitioner = Practitioner.objects.create(
        user=make_user(username, roles.PRACTITIONER), display_name=name or username.title(),
        profession="Physiotherapist", default_location=location,
    )
    for weekday in range(7):
        WorkingHours.objects.create(practitioner=practitioner, weekday=weekday, starts_at=time(9),
                                    ends_at=time(17), location=location)
    return practitioner


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    """SMS go to the in-memory outbox in tests."""
    from reminders import sms

    settings.SMS_BACKEND = "locmem"
    sms.reset_outbox()
    return sms.outbox


@pytest.fixture(autouse=True)
def private_cache(settings):
    """Each test process its own cache: with REDIS_URL set the workers would share (and clear) one. Emptied
    for every test, so a Zoom token cached by an earlier test never hides the token request a test expects."""
    from django.core.cache import cache

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Argon2 is slow on purpose; tests that check the real hasher read config.settings directly."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def practice(db) -> Practice:
    practice = Practice.load()
    practice.name = "Test Practice"
    practice.time_zone = "Australia/Sydney"
    practice.save()
    return practice


@pytest.fixture
def location(db) -> Location:
    return Location.objects.create(name="Clinic", address="1 Main St")


@pytest.fixture
def telehealth_location(db) -> Location:
    return Location.objects.create(name="Telehealth", is_telehealth=True)


@pytest.fixture
def appointment_type(db) -> AppointmentType:
    return AppointmentType.objects.create(name="Standard", default_duration=30)


@pytest.fixture
def practitioner_a(practice, location) -> Practitioner:
    return make_practitioner("alice", location, name="Alice Allen")


@pytest.fixture
def practitioner_b(practice, location) -> Practitioner:
    return make_practitioner("bob", location, name="Bob Brown")


@pytest.fixture
def front_desk(db) -> User:
    return make_user("frontdesk", roles.FRONT_DESK)


@pytest.fixture
def admin_user(db) -> User:
    return make_user("admin", roles.PRACTICE_ADMIN)


@pytest.fixture
def client_record(db) -> Client:
    return Client.objects.create(first_name="Casey", last_name="Client", mobile="+61412345678",
                                 email="casey@example.com")


SYDNEY = "Australia/Sydney"


def sydney(year: int, month: int, day: int, hour: int, minute: int = 0):
    """An aware datetime at that wall-clock time in Sydney."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(SYDNEY))


@pytest.fixture
def book(front_desk, location, appointment_type, client_record):
    """Book through the service with sensible defaults; returns the appointment."""
    from scheduling.services import appointment_book, ends_after

    def _book(practitioner, starts_at, *, minutes: int | None = None, client=None, actor=None):
        return appointment_book(
            actor=actor or front_desk, client=client or client_record, practitioner=practitioner,
            location=location, appointment_type=appointment_type, starts_at=starts_at,
            ends_at=ends_after(starts_at, minutes) if minutes else None,
        ).appointment

    return _book


@pytest.fixture
def credits(db):
    """The practice bought 100 SMS credits; call it for more."""
    from reminders.models import CreditEntry

    def _credits(amount: int = 100):
        CreditEntry.objects.create(amount=amount, reason=CreditEntry.Reason.PURCHASE)

    _credits()
    return _credits
