"""Personas and practice data shared by the whole suite."""

from datetime import time

import pytest
from django.contrib.auth.models import Group, User

from practice import roles
from practice.models import Client, Location, Practice, Practitioner, WorkingHours
from scheduling.models import AppointmentType

PASSWORD = "correct-horse-battery"


def make_user(username: str, role: str | None) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD, first_name=username.title())
    if role:
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
