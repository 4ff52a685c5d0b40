"""Confirming an appointment (the client's page, an SMS "Y" or the desk) and what a move or cancel does to it."""

from datetime import timedelta

import pytest
import time_machine

from practice.errors import ApplicationError
from practice.models import AuditEvent
from scheduling.models import ConfirmedVia
from scheduling.services import appointment_cancel, appointment_confirm, appointment_move, appointment_reinstate
from tests.conftest import sydney

MONDAY_10 = sydney(2030, 3, 4, 10)


def test_a_client_confirms_once_and_the_trail_names_how(book, practitioner_a):
    appointment = book(practitioner_a, MONDAY_10)
    appointment_confirm(appointment=appointment, via=ConfirmedVia.CLIENT_LINK)
    appointment_confirm(appointment=appointment, via=ConfirmedVia.CLIENT_SMS)  # the second changes nothing
    appointment.refresh_from_db()
    assert appointment.confirmed_at is not None
    assert appointment.confirmed_via == ConfirmedVia.CLIENT_LINK
    events = AuditEvent.objects.filter(action="appointment.confirmed", object_id=str(appointment.pk))
    assert [(event.actor, event.actor_name) for event in events] == [(None, "client (link)")]


def test_the_desk_confirms_as_itself(book, practitioner_a, front_desk):
    appointment = book(practitioner_a, MONDAY_10)
    appointment_confirm(appointment=appointment, via=ConfirmedVia.STAFF, actor=front_desk)
    event = AuditEvent.objects.get(action="appointment.confirmed")
    assert event.actor == front_desk


def test_a_move_to_another_time_clears_the_confirmation(book, practitioner_a, front_desk, location):
    appointment = book(practitioner_a, MONDAY_10)
    appointment_confirm(appointment=appointment, via=ConfirmedVia.CLIENT_LINK)
    appointment_move(actor=front_desk, appointment=appointment, starts_at=MONDAY_10 + timedelta(hours=1),
                     ends_at=MONDAY_10 + timedelta(hours=1, minutes=30), practitioner=practitioner_a,
                     location=location)
    appointment.refresh_from_db()
    assert appointment.confirmed_at is None and appointment.confirmed_via == ""


def test_a_cancelled_or_past_appointment_cannot_be_confirmed(book, practitioner_a, front_desk):
    cancelled = book(practitioner_a, MONDAY_10)
    appointment_cancel(actor=front_desk, appointment=cancelled)
    with pytest.raises(ApplicationError) as caught:
        appointment_confirm(appointment=cancelled, via=ConfirmedVia.CLIENT_SMS)
    assert caught.value.code == "cancelled"
    past = book(practitioner_a, MONDAY_10 + timedelta(hours=2))
    with time_machine.travel(MONDAY_10 + timedelta(hours=3), tick=False), pytest.raises(ApplicationError) as caught:
        appointment_confirm(appointment=past, via=ConfirmedVia.CLIENT_SMS)
    assert caught.value.code == "past"


def test_a_client_cancel_is_audited_with_its_label(book, practitioner_a):
    appointment = book(practitioner_a, MONDAY_10)
    appointment_cancel(actor=None, actor_label="client (link)", appointment=appointment)
    event = AuditEvent.objects.get(action="appointment.cancelled")
    assert (event.actor, event.actor_name) == (None, "client (link)")


def test_every_move_cancel_and_reinstate_raises_the_calendar_sequence_under_one_uid(book, practitioner_a,
                                                                                     front_desk, location):
    appointment = book(practitioner_a, MONDAY_10)
    uid = appointment.calendar_uid
    assert appointment.calendar_sequence == 0
    appointment_move(actor=front_desk, appointment=appointment, starts_at=MONDAY_10 + timedelta(hours=1),
                     ends_at=MONDAY_10 + timedelta(hours=1, minutes=30), practitioner=practitioner_a,
                     location=location)
    appointment_cancel(actor=front_desk, appointment=appointment)
    appointment_reinstate(actor=front_desk, appointment=appointment)
    appointment.refresh_from_db()
    assert (appointment.calendar_uid, appointment.calendar_sequence) == (uid, 3)
