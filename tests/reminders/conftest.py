import pytest


@pytest.fixture
def telehealth_appointment(alice_zoom, practitioner_a, front_desk, location, appointment_type, client_record,
                           django_capture_on_commit_callbacks):
    from datetime import timedelta

    from scheduling.models import Appointment
    from scheduling.services import appointment_book
    from tests.conftest import sydney

    start = sydney(2030, 3, 4, 10)
    with django_capture_on_commit_callbacks(execute=True):
        result = appointment_book(actor=front_desk, client=client_record, practitioner=practitioner_a,
                                  location=location, appointment_type=appointment_type, starts_at=start,
                                  ends_at=start + timedelta(minutes=30), is_telehealth=True)
    return Appointment.objects.select_related("zoom_meeting", "client", "practitioner").get(pk=result.appointment.pk)
