from datetime import timedelta

import pytest

from practice.errors import ApplicationError
from practice.models import AuditEvent, Client
from scheduling.models import Appointment, Status
from scheduling.services import (
    appointment_book,
    appointment_cancel,
    appointment_move,
    appointment_reinstate,
    appointment_set_status,
)
from tests.conftest import sydney

MONDAY_10 = sydney(2030, 3, 4, 10)


def test_it_books_for_the_type_duration_and_audits(book, practitioner_a, front_desk):
    appointment = book(practitioner_a, MONDAY_10)
    assert appointment.ends_at - appointment.starts_at == timedelta(minutes=30)
    assert appointment.status == Status.BOOKED
    assert appointment.created_by == front_desk
    event = AuditEvent.objects.get(object_type="appointment", object_id=str(appointment.pk))
    assert event.action == "appointment.booked"
    assert event.actor == front_desk
    assert "casey" not in str(event.changes).lower()


def test_it_refuses_an_overlapping_booking_with_a_clear_message(book, practitioner_a):
    book(practitioner_a, MONDAY_10)
    with pytest.raises(ApplicationError) as caught:
        book(practitioner_a, MONDAY_10 + timedelta(minutes=15))
    assert caught.value.code == "conflict"
    assert "Alice Allen already has an appointment at Mon 04 Mar 10:00–10:30" in caught.value.message
    assert Appointment.objects.count() == 1


def test_it_allows_back_to_back_and_other_practitioners(book, practitioner_a, practitioner_b):
    book(practitioner_a, MONDAY_10)
    book(practitioner_a, MONDAY_10 + timedelta(minutes=30))
    book(practitioner_a, MONDAY_10 - timedelta(minutes=30))
    book(practitioner_b, MONDAY_10)
    assert Appointment.objects.count() == 4


def test_it_rebooks_a_cancelled_slot(book, practitioner_a, front_desk):
    first = book(practitioner_a, MONDAY_10)
    appointment_cancel(actor=front_desk, appointment=first, reason="Client unwell")
    second = book(practitioner_a, MONDAY_10)
    assert second.pk != first.pk
    first.refresh_from_db()
    assert first.status == Status.CANCELLED


def test_it_refuses_to_reinstate_over_a_new_booking(book, practitioner_a, front_desk):
    first = book(practitioner_a, MONDAY_10)
    appointment_cancel(actor=front_desk, appointment=first)
    book(practitioner_a, MONDAY_10)
    with pytest.raises(ApplicationError, match="already has an appointment"):
        appointment_reinstate(actor=front_desk, appointment=first)
    first.refresh_from_db()
    assert first.status == Status.CANCELLED


def test_it_reinstates_a_free_slot(book, practitioner_a, front_desk):
    first = book(practitioner_a, MONDAY_10)
    appointment_cancel(actor=front_desk, appointment=first)
    appointment_reinstate(actor=front_desk, appointment=first)
    first.refresh_from_db()
    assert first.status == Status.BOOKED
    assert list(AuditEvent.objects.filter(object_id=str(first.pk)).values_list("action", flat=True)) == [
        "appointment.reinstated", "appointment.cancelled", "appointment.booked"]


def test_it_moves_to_another_time_practitioner_and_location(book, practitioner_a, practitioner_b, front_desk,
                                                             telehealth_location):
    appointment = book(practitioner_a, MONDAY_10)
    new_start = MONDAY_10 + timedelta(days=1, hours=2)
    appointment_move(actor=front_desk, appointment=appointment, starts_at=new_start,
                     ends_at=new_start + timedelta(minutes=45), practitioner=practitioner_b,
                     location=telehealth_location)
    appointment.refresh_from_db()
    assert (appointment.practitioner, appointment.location) == (practitioner_b, telehealth_location)
    assert appointment.starts_at == new_start
    assert appointment.duration == timedelta(minutes=45)
    event = AuditEvent.objects.filter(action="appointment.moved").get()
    assert set(event.changes) == {"practitioner", "location", "starts_at", "ends_at"}


def test_it_refuses_a_move_onto_another_appointment(book, practitioner_a, front_desk):
    first = book(practitioner_a, MONDAY_10)
    second = book(practitioner_a, MONDAY_10 + timedelta(hours=1))
    with pytest.raises(ApplicationError, match="already has an appointment"):
        appointment_move(actor=front_desk, appointment=second, starts_at=MONDAY_10 + timedelta(minutes=15),
                         ends_at=MONDAY_10 + timedelta(minutes=45), practitioner=practitioner_a,
                         location=second.location)
    second.refresh_from_db()
    assert second.starts_at == MONDAY_10 + timedelta(hours=1)
    assert first.pk != second.pk


def test_it_lets_an_appointment_move_within_its_own_time(book, practitioner_a, front_desk):
    appointment = book(practitioner_a, MONDAY_10, minutes=60)
    appointment_move(actor=front_desk, appointment=appointment, starts_at=MONDAY_10 + timedelta(minutes=15),
                     ends_at=MONDAY_10 + timedelta(minutes=75), practitioner=practitioner_a,
                     location=appointment.location)
    appointment.refresh_from_db()
    assert appointment.starts_at == MONDAY_10 + timedelta(minutes=15)


def test_it_changes_status_but_not_of_a_cancelled_appointment(book, practitioner_a, front_desk):
    appointment = book(practitioner_a, MONDAY_10)
    appointment_set_status(actor=front_desk, appointment=appointment, status=Status.ARRIVED)
    appointment.refresh_from_db()
    assert appointment.status == Status.ARRIVED
    with pytest.raises(ApplicationError):
        appointment_set_status(actor=front_desk, appointment=appointment, status=Status.CANCELLED)
    appointment_cancel(actor=front_desk, appointment=appointment)
    with pytest.raises(ApplicationError, match="Reinstate it first"):
        appointment_set_status(actor=front_desk, appointment=appointment, status=Status.COMPLETED)
    with pytest.raises(ApplicationError, match="already cancelled"):
        appointment_cancel(actor=front_desk, appointment=appointment)


def test_it_warns_outside_working_hours_but_books(front_desk, practitioner_a, location, appointment_type,
                                                  client_record):
    result = appointment_book(actor=front_desk, client=client_record, practitioner=practitioner_a, location=location,
                              appointment_type=appointment_type, starts_at=sydney(2030, 3, 4, 7, 30))
    assert result.warnings == ["This is outside Alice Allen's working hours."]
    inside = appointment_book(actor=front_desk, client=client_record, practitioner=practitioner_a,
                              location=location, appointment_type=appointment_type, starts_at=MONDAY_10)
    assert inside.warnings == []


def test_it_allows_past_bookings_for_walk_ins_recorded_late(book, practitioner_a):
    appointment = book(practitioner_a, sydney(2020, 1, 6, 10))
    assert appointment.pk


def test_it_refuses_inactive_practitioner_and_bad_times(book, practitioner_a, front_desk):
    with pytest.raises(ApplicationError, match="end after it starts"):
        book(practitioner_a, MONDAY_10, minutes=-30)
    practitioner_a.is_active = False
    practitioner_a.save()
    with pytest.raises(ApplicationError, match="no longer active"):
        book(practitioner_a, MONDAY_10)


def test_quick_add_client_is_rolled_back_when_the_slot_is_taken(book, practitioner_a, front_desk, location,
                                                                 appointment_type):
    book(practitioner_a, MONDAY_10)
    clients_before = Client.objects.count()
    with pytest.raises(ApplicationError):
        appointment_book(actor=front_desk, client=None, practitioner=practitioner_a, location=location,
                         appointment_type=appointment_type, starts_at=MONDAY_10,
                         new_client={"first_name": "New", "last_name": "Person", "mobile": "", "email": ""})
    assert Client.objects.count() == clients_before


def test_audit_events_are_append_only(book, practitioner_a):
    book(practitioner_a, MONDAY_10)
    event = AuditEvent.objects.first()
    event.summary = "changed"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()
