from datetime import timedelta

import pytest

from scheduling.models import Appointment
from scheduling.services import appointment_book
from tests.conftest import sydney

START = sydney(2030, 3, 4, 10)


@pytest.fixture
def tele_book(front_desk, location, appointment_type, client_record, django_capture_on_commit_callbacks):
    """Book a telehealth appointment and run what happens after commit (the Zoom create)."""

    def _book(practitioner, starts_at=START, minutes=30):
        with django_capture_on_commit_callbacks(execute=True):
            result = appointment_book(actor=front_desk, client=client_record, practitioner=practitioner,
                                      location=location, appointment_type=appointment_type, starts_at=starts_at,
                                      ends_at=starts_at + timedelta(minutes=minutes), is_telehealth=True)
        return Appointment.objects.select_related("zoom_meeting").get(pk=result.appointment.pk)

    return _book


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a service and the Zoom work it leaves for after commit."""

    def _run(service, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return service(**kwargs)

    return _run
