"""Moving with a preview first (R7/R8 said before saving), and Undo after a move, a resize or a cancel."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from practice.errors import ApplicationError
from practice.models import AuditEvent
from scheduling import services
from scheduling.models import Appointment, Status
from scheduling.services import (
    R7_CONSEQUENCE,
    R8_CONSEQUENCE,
    appointment_book,
    appointment_cancel,
    appointment_move,
    appointment_move_preview,
    appointment_set_status,
    appointment_undo,
    undo_offer_cancel,
    undo_offer_move,
)
from telehealth.models import MeetingState, ZoomMeeting
from tests.conftest import make_user, sydney

MONDAY_10 = sydney(2030, 3, 4, 10)
HALF_HOUR = timedelta(minutes=30)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a service and the Zoom work it leaves for after commit."""

    def _run(service, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return service(*args, **kwargs)

    return _run


@pytest.fixture
def telehealth_appointment(alice_zoom, practitioner_a, front_desk, telehealth_location, appointment_type,
                           client_record, committed):
    """Alice's telehealth appointment on Monday 10:00 at the Telehealth location, its meeting made in Zoom."""
    result = committed(appointment_book, actor=front_desk, client=client_record, practitioner=practitioner_a,
                       location=telehealth_location, appointment_type=appointment_type, starts_at=MONDAY_10,
                       is_telehealth=True)
    appointment = Appointment.objects.select_related("zoom_meeting", "location").get(pk=result.appointment.pk)
    assert appointment.zoom_meeting.state == MeetingState.ACTIVE
    return appointment


def preview(appointment, *, starts_at, practitioner=None, location=None, minutes=30):
    return appointment_move_preview(appointment=appointment, starts_at=starts_at,
                                    ends_at=starts_at + timedelta(minutes=minutes),
                                    practitioner=practitioner or appointment.practitioner,
                                    location=location or appointment.location)


def move(actor, appointment, *, starts_at, practitioner=None, location=None, minutes=30):
    return appointment_move(actor=actor, appointment=appointment, starts_at=starts_at,
                            ends_at=starts_at + timedelta(minutes=minutes),
                            practitioner=practitioner or appointment.practitioner,
                            location=location or appointment.location)


# Preview ------------------------------------------------------------------------------------------------------

def test_it_previews_r7_for_a_new_time_and_saves_nothing(telehealth_appointment, front_desk):
    meetings, events = ZoomMeeting.objects.count(), AuditEvent.objects.count()
    before = Appointment.objects.get(pk=telehealth_appointment.pk)

    result = preview(telehealth_appointment, starts_at=MONDAY_10 + timedelta(hours=2))

    assert result.allowed
    assert result.consequences == (R7_CONSEQUENCE,)
    assert "old link, meeting ID and passcode stop working" in R7_CONSEQUENCE
    assert result.errors == () and result.warnings == ()
    after = Appointment.objects.get(pk=telehealth_appointment.pk)
    assert (after.starts_at, after.zoom_meeting_id, after.updated_at) == (
        before.starts_at, before.zoom_meeting_id, before.updated_at)
    assert ZoomMeeting.objects.count() == meetings and AuditEvent.objects.count() == events


def test_it_previews_r8_and_the_location_change_for_another_practitioner(telehealth_appointment, practitioner_b,
                                                                         location):
    result = preview(telehealth_appointment, starts_at=MONDAY_10, practitioner=practitioner_b)

    assert result.allowed
    assert result.consequences == (R8_CONSEQUENCE, f"The location changes from Telehealth to {location}.")
    assert R8_CONSEQUENCE.startswith("Telehealth will be removed: the Zoom meeting is deleted and Telehealth unticked.")
    Appointment.objects.get(pk=telehealth_appointment.pk, is_telehealth=True, practitioner__display_name="Alice Allen")


def test_the_preview_and_the_move_agree(telehealth_appointment, practitioner_b, front_desk, committed):
    said = preview(telehealth_appointment, starts_at=MONDAY_10, practitioner=practitioner_b)
    done = committed(move, front_desk, telehealth_appointment, starts_at=MONDAY_10, practitioner=practitioner_b)
    assert done.telehealth == services.TelehealthChange.REMOVED and said.consequences[0] == R8_CONSEQUENCE
    assert str(done.appointment.location) in said.consequences[1]


def test_the_preview_refuses_a_clash_and_warns_about_working_hours(book, practitioner_a):
    first = book(practitioner_a, MONDAY_10)
    book(practitioner_a, MONDAY_10 + timedelta(hours=1))

    clash = preview(first, starts_at=MONDAY_10 + timedelta(minutes=45))
    assert not clash.allowed
    assert clash.errors == ("Alice Allen already has an appointment at Mon 04 Mar 11:00–11:30. Choose another time.",)

    late = preview(first, starts_at=sydney(2030, 3, 4, 18))
    assert late.allowed and late.warnings == ("This is outside Alice Allen's working hours.",)
    assert late.consequences == ()  # not telehealth: nothing to say about Zoom


def test_the_preview_refuses_a_telehealth_move_into_the_past(telehealth_appointment):
    result = preview(telehealth_appointment, starts_at=timezone.now() - timedelta(days=1))
    assert result.errors == ("Telehealth meetings can only be made for future times. Choose a later time or "
                             "untick Telehealth.",)


def test_the_preview_says_when_nothing_changes(book, practitioner_a):
    appointment = book(practitioner_a, MONDAY_10)
    result = preview(appointment, starts_at=MONDAY_10)
    assert result.unchanged and not result.allowed and not result.errors


# Undo (services) ----------------------------------------------------------------------------------------------

def test_undo_moves_an_appointment_back(book, practitioner_a, practitioner_b, front_desk):
    appointment = book(practitioner_a, MONDAY_10)
    result = move(front_desk, appointment, starts_at=MONDAY_10 + timedelta(hours=3), practitioner=practitioner_b)
    offer = undo_offer_move(actor=front_desk, result=result)
    assert offer.text == "Undo moves it back to Mon 04 Mar 10:00–10:30 with Alice Allen."

    undone = appointment_undo(actor=front_desk, token=offer.token)

    appointment.refresh_from_db()
    assert (appointment.practitioner, appointment.starts_at, appointment.ends_at) == (
        practitioner_a, MONDAY_10, MONDAY_10 + HALF_HOUR)
    assert undone.message == "Undone: the appointment is back where it was."
    assert AuditEvent.objects.filter(action="appointment.moved", object_id=str(appointment.pk)).count() == 2


def test_undo_of_a_resize_restores_the_length(book, practitioner_a, front_desk):
    appointment = book(practitioner_a, MONDAY_10)
    result = move(front_desk, appointment, starts_at=MONDAY_10, minutes=60)
    appointment_undo(actor=front_desk, token=undo_offer_move(actor=front_desk, result=result).token)
    appointment.refresh_from_db()
    assert appointment.ends_at == MONDAY_10 + HALF_HOUR


def test_undo_of_an_r7_move_re_creates_the_meeting_again(telehealth_appointment, front_desk, committed, zoom):
    result = committed(move, front_desk, telehealth_appointment, starts_at=MONDAY_10 + timedelta(hours=2))
    moved_meeting = result.appointment.zoom_meeting
    offer = undo_offer_move(actor=front_desk, result=result)
    assert offer.text == ("Undo moves it back to Mon 04 Mar 10:00–10:30 and creates another new Zoom meeting; "
                          "this one stops working.")

    undone = committed(appointment_undo, actor=front_desk, token=offer.token)

    appointment = Appointment.objects.select_related("zoom_meeting").get(pk=telehealth_appointment.pk)
    assert appointment.starts_at == MONDAY_10 and appointment.is_telehealth
    assert appointment.zoom_meeting not in (moved_meeting, telehealth_appointment.zoom_meeting)
    assert appointment.zoom_meeting.state == MeetingState.ACTIVE
    moved_meeting.refresh_from_db()
    assert moved_meeting.state == MeetingState.DELETED
    assert undone.moved.telehealth == services.TelehealthChange.RECREATED  # the view says R7 again


def test_undo_of_an_r8_move_moves_back_and_makes_it_telehealth_again(telehealth_appointment, practitioner_b,
                                                                     front_desk, committed, telehealth_location):
    result = committed(move, front_desk, telehealth_appointment, starts_at=MONDAY_10, practitioner=practitioner_b)
    assert not result.appointment.is_telehealth
    offer = undo_offer_move(actor=front_desk, result=result)
    assert offer.text == ("Undo moves it back to Mon 04 Mar 10:00–10:30 with Alice Allen and makes it telehealth "
                          "again with a new Zoom meeting (the old one is gone).")

    undone = committed(appointment_undo, actor=front_desk, token=offer.token)

    appointment = Appointment.objects.select_related("zoom_meeting").get(pk=telehealth_appointment.pk)
    assert appointment.practitioner.display_name == "Alice Allen"
    assert appointment.location == telehealth_location
    assert appointment.is_telehealth and appointment.zoom_meeting.state == MeetingState.ACTIVE
    assert appointment.zoom_meeting != telehealth_appointment.zoom_meeting
    assert undone.warnings == [] and undone.telehealth_restored
    assert "Telehealth is back, with a new Zoom meeting: send its details to the client." in undone.message


def test_undo_of_an_r8_move_says_why_telehealth_could_not_come_back(telehealth_appointment, practitioner_b,
                                                                    front_desk, committed):
    result = committed(move, front_desk, telehealth_appointment, starts_at=MONDAY_10, practitioner=practitioner_b)
    telehealth_appointment.practitioner.zoom_connection.delete()
    undone = committed(appointment_undo, actor=front_desk,
                       token=undo_offer_move(actor=front_desk, result=result).token)
    appointment = Appointment.objects.get(pk=telehealth_appointment.pk)
    assert appointment.practitioner.display_name == "Alice Allen" and not appointment.is_telehealth
    assert undone.warnings == ["Telehealth could not be restored: Alice Allen has no Zoom connection yet. A practice "
                               "admin can add it under Options → Zoom."]


def test_undo_of_a_cancel_reinstates_with_the_status_it_had(book, practitioner_a, front_desk):
    appointment = book(practitioner_a, MONDAY_10)
    appointment_set_status(actor=front_desk, appointment=appointment, status=Status.ARRIVED)
    cancelled = appointment_cancel(actor=front_desk, appointment=appointment)
    offer = undo_offer_cancel(actor=front_desk, appointment=cancelled, previous_status=Status.ARRIVED)
    assert offer.text == "Undo reinstates it."

    appointment_undo(actor=front_desk, token=offer.token)

    appointment.refresh_from_db()
    assert appointment.status == Status.ARRIVED


def test_undo_of_a_telehealth_cancel_creates_a_new_meeting(telehealth_appointment, front_desk, committed):
    cancelled = committed(appointment_cancel, actor=front_desk, appointment=telehealth_appointment)
    offer = undo_offer_cancel(actor=front_desk, appointment=cancelled, previous_status=Status.BOOKED)
    assert offer.text == "Undo reinstates it and creates a new Zoom meeting (the cancellation deleted the old one)."
    committed(appointment_undo, actor=front_desk, token=offer.token)
    appointment = Appointment.objects.select_related("zoom_meeting").get(pk=telehealth_appointment.pk)
    assert appointment.status == Status.BOOKED
    assert appointment.zoom_meeting.state == MeetingState.ACTIVE
    assert appointment.zoom_meeting != telehealth_appointment.zoom_meeting


def _moved_offer(book, practitioner, actor):
    appointment = book(practitioner, MONDAY_10)
    result = move(actor, appointment, starts_at=MONDAY_10 + timedelta(hours=1))
    return appointment, undo_offer_move(actor=actor, result=result)


def test_undo_expires(book, practitioner_a, front_desk):
    appointment, offer = _moved_offer(book, practitioner_a, front_desk)
    window = services.UNDO_SECONDS + services.UNDO_GRACE_SECONDS
    with time_machine.travel(timezone.now() + timedelta(seconds=window + 1)), \
            pytest.raises(ApplicationError) as caught:
        appointment_undo(actor=front_desk, token=offer.token)
    assert caught.value.code == "undo_expired"
    appointment.refresh_from_db()
    assert appointment.starts_at == MONDAY_10 + timedelta(hours=1)


def test_undo_works_until_the_end_of_the_window(book, practitioner_a, front_desk):
    appointment, offer = _moved_offer(book, practitioner_a, front_desk)
    window = services.UNDO_SECONDS + services.UNDO_GRACE_SECONDS
    with time_machine.travel(timezone.now() + timedelta(seconds=window - 1)):
        appointment_undo(actor=front_desk, token=offer.token)
    appointment.refresh_from_db()
    assert appointment.starts_at == MONDAY_10


def test_undo_by_another_user_is_refused(book, practitioner_a, front_desk):
    appointment, offer = _moved_offer(book, practitioner_a, front_desk)
    colleague = make_user("desk2", "Front desk")
    with pytest.raises(ApplicationError) as caught:
        appointment_undo(actor=colleague, token=offer.token)
    assert caught.value.code == "undo_not_yours"
    assert caught.value.message == "Only the person who made this change can undo it."
    appointment.refresh_from_db()
    assert appointment.starts_at == MONDAY_10 + timedelta(hours=1)


def test_undo_after_a_later_change_is_refused(book, practitioner_a, front_desk):
    appointment, offer = _moved_offer(book, practitioner_a, front_desk)
    appointment_set_status(actor=front_desk, appointment=appointment, status=Status.ARRIVED)
    with pytest.raises(ApplicationError) as caught:
        appointment_undo(actor=front_desk, token=offer.token)
    assert caught.value.code == "undo_changed"
    appointment.refresh_from_db()
    assert appointment.starts_at == MONDAY_10 + timedelta(hours=1)


def test_undo_works_once(book, practitioner_a, front_desk):
    appointment, offer = _moved_offer(book, practitioner_a, front_desk)
    appointment_undo(actor=front_desk, token=offer.token)
    with pytest.raises(ApplicationError) as caught:
        appointment_undo(actor=front_desk, token=offer.token)
    assert caught.value.code == "undo_changed"


@pytest.mark.parametrize("token", ["", "nonsense", "eyJraW5kIjoibW92ZSJ9:1abc:def"])
def test_a_forged_undo_is_refused(front_desk, token):
    with pytest.raises(ApplicationError) as caught:
        appointment_undo(actor=front_desk, token=token)
    assert caught.value.code == "undo_invalid"


def test_an_unchanged_move_offers_no_undo(book, practitioner_a, front_desk):
    appointment = book(practitioner_a, MONDAY_10)
    assert undo_offer_move(actor=front_desk, result=move(front_desk, appointment, starts_at=MONDAY_10)) is None


# Views ------------------------------------------------------------------------------------------------------------

def _preview_url(appointment, **params):
    query = {"practitioner": appointment.practitioner_id, "date": "2030-03-04", "start_time": "12:00",
             "duration": "30", **params}
    return reverse("appointment-move-preview", args=[appointment.pk]), query


def test_the_preview_view_shows_r7_and_a_confirm_form_posting_to_the_move(client, front_desk,
                                                                          telehealth_appointment):
    client.force_login(front_desk)
    url, query = _preview_url(telehealth_appointment, confirm="1", next="/diary/week/?date=2030-03-04")
    html = client.get(url, query).content.decode()
    assert "The Zoom meeting will be re-created; the old link, meeting ID and passcode stop working." in html
    assert f'action="/appointments/{telehealth_appointment.pk}/move/"' in html
    # The drag gives no location: the appointment keeps its own.
    assert f'name="location" value="{telehealth_appointment.location_id}"' in html
    assert 'name="start_time" value="12:00"' in html
    assert 'name="next" value="/diary/week/?date=2030-03-04"' in html
    assert "Save move" in html
    assert "To Mon 4 Mar, 12:00–12:30 with Alice Allen" in html


def test_the_preview_view_shows_r8_before_save(client, front_desk, telehealth_appointment, practitioner_b):
    client.force_login(front_desk)
    url, query = _preview_url(telehealth_appointment, practitioner=practitioner_b.pk)
    html = client.get(url, query).content.decode()
    assert "Telehealth will be removed: the Zoom meeting is deleted and Telehealth unticked." in html
    assert "The location changes from Telehealth to Clinic." in html
    assert "<form" not in html  # the panel's own form saves it


def test_the_preview_view_offers_no_save_for_a_clash(client, front_desk, book, practitioner_a):
    appointment = book(practitioner_a, MONDAY_10)
    book(practitioner_a, sydney(2030, 3, 4, 12))
    client.force_login(front_desk)
    url, query = _preview_url(appointment, confirm="1")
    html = client.get(url, query).content.decode()
    assert "Alice Allen already has an appointment at Mon 04 Mar 12:00–12:30" in html
    assert "Save move" not in html and "Don’t move" in html


def test_the_preview_view_shows_bad_input_as_errors(client, front_desk, book, practitioner_a):
    appointment = book(practitioner_a, MONDAY_10)
    client.force_login(front_desk)
    url, query = _preview_url(appointment, start_time="25:99", confirm="1")
    response = client.get(url, query)
    assert response.status_code == 200
    assert "Enter a valid time." in response.content.decode()
    assert "Save move" not in response.content.decode()


def test_the_preview_view_is_for_those_who_may_change_it(client, book, practitioner_a, practitioner_b):
    appointment = book(practitioner_a, MONDAY_10)
    client.force_login(practitioner_b.user)
    url, query = _preview_url(appointment)
    assert client.get(url, query).status_code == 403


def test_the_move_view_offers_undo_and_goes_back_to_the_page_it_came_from(client, front_desk, book,
                                                                          practitioner_a):
    appointment = book(practitioner_a, MONDAY_10)
    client.force_login(front_desk)
    response = client.post(reverse("appointment-move", args=[appointment.pk]), {
        "practitioner": practitioner_a.pk, "location": appointment.location_id, "date": "2030-03-05",
        "start_time": "11:00", "duration": "30", "next": "/diary/week/?date=2030-03-04"})
    assert response.status_code == 302 and response["Location"] == "/diary/week/?date=2030-03-04"
    html = client.get(response["Location"]).content.decode()
    assert "Appointment moved. Undo moves it back to Mon 04 Mar 10:00–10:30." in html
    assert 'class="undo-form"' in html and f'data-undo-seconds="{services.UNDO_SECONDS}"' in html
    assert 'name="next" value="/diary/week/?date=2030-03-04"' in html


def test_the_move_view_ignores_a_next_on_another_site(client, front_desk, book, practitioner_a):
    appointment = book(practitioner_a, MONDAY_10)
    client.force_login(front_desk)
    response = client.post(reverse("appointment-move", args=[appointment.pk]), {
        "practitioner": practitioner_a.pk, "location": appointment.location_id, "date": "2030-03-05",
        "start_time": "11:00", "duration": "30", "next": "//evil.example/diary/"})
    assert response["Location"] == "/diary/?date=2030-03-05"


def _undo_token_from(html: str) -> str:
    return html.split('name="token" value="', 1)[1].split('"', 1)[0]


def test_the_undo_view_puts_it_back_once(client, front_desk, book, practitioner_a):
    appointment = book(practitioner_a, MONDAY_10)
    client.force_login(front_desk)
    response = client.post(reverse("appointment-move", args=[appointment.pk]), {
        "practitioner": practitioner_a.pk, "location": appointment.location_id, "date": "2030-03-04",
        "start_time": "15:00", "duration": "60"}, follow=True)
    token = _undo_token_from(response.content.decode())

    response = client.post(reverse("appointment-undo"), {"token": token, "next": "/diary/?date=2030-03-04"},
                           follow=True)
    assert "Undone: the appointment is back where it was." in response.content.decode()
    appointment.refresh_from_db()
    assert (appointment.starts_at, appointment.ends_at) == (MONDAY_10, MONDAY_10 + HALF_HOUR)

    response = client.post(reverse("appointment-undo"), {"token": token}, follow=True)
    assert "The appointment has changed since" in response.content.decode()


def test_the_undo_view_refuses_another_user_and_a_late_undo(client, front_desk, book, practitioner_a):
    appointment = book(practitioner_a, MONDAY_10)
    client.force_login(front_desk)
    response = client.post(reverse("appointment-move", args=[appointment.pk]), {
        "practitioner": practitioner_a.pk, "location": appointment.location_id, "date": "2030-03-04",
        "start_time": "15:00", "duration": "30"}, follow=True)
    token = _undo_token_from(response.content.decode())

    client.force_login(make_user("desk2", "Front desk"))
    response = client.post(reverse("appointment-undo"), {"token": token}, follow=True)
    assert "Only the person who made this change can undo it." in response.content.decode()

    client.force_login(front_desk)
    with time_machine.travel(timezone.now() + timedelta(seconds=60)):
        response = client.post(reverse("appointment-undo"), {"token": token}, follow=True)
    assert "Too late to undo" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.starts_at == sydney(2030, 3, 4, 15)


def test_the_cancel_view_offers_undo(client, front_desk, book, practitioner_a):
    appointment = book(practitioner_a, MONDAY_10)
    client.force_login(front_desk)
    response = client.post(reverse("appointment-cancel", args=[appointment.pk]), {"reason": ""}, follow=True)
    html = response.content.decode()
    assert "Appointment cancelled. The time is free to book again. Undo reinstates it." in html
    client.post(reverse("appointment-undo"), {"token": _undo_token_from(html)})
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED


def test_diary_blocks_carry_what_the_move_script_needs_only_where_the_user_may_move(
        client, book, practitioner_a, practitioner_b):
    mine = book(practitioner_a, MONDAY_10)
    book(practitioner_b, MONDAY_10)
    client.force_login(practitioner_a.user)
    html = client.get(reverse("diary"), {"date": "2030-03-04"}).content.decode()
    # The script reads the id from the link and the times from the block's place (rows from 07:00): 10:00–10:30.
    assert f'<a class="appt" href="/appointments/{mine.pk}/" style="--top:12;--len:2;' in html
    assert "data-id=" not in html and "data-move-url" not in html
    # Only the blocks in a column the user may book in move (the column is marked, not each block).
    assert f'data-practitioner="{practitioner_a.pk}" data-date="2030-03-04" data-droppable' in html
    assert f'data-practitioner="{practitioner_b.pk}" data-date="2030-03-04">' in html
    assert 'id="move-dialog"' in html and "js/diary_move.js" in html


def test_a_block_across_midnight_is_marked_to_move_from_its_panel_only(client, front_desk, book, practitioner_a):
    late = book(practitioner_a, sydney(2030, 3, 4, 23), minutes=90)
    until_midnight = book(practitioner_a, sydney(2030, 3, 5, 23), minutes=60)
    client.force_login(front_desk)
    monday = client.get(reverse("diary"), {"date": "2030-03-04"}).content.decode()
    tuesday = client.get(reverse("diary"), {"date": "2030-03-05"}).content.decode()
    assert f'<a class="appt span-days" href="/appointments/{late.pk}/"' in monday
    assert f'<a class="appt span-days" href="/appointments/{late.pk}/"' in tuesday
    # Ending at midnight stays within its day: it moves on the grid.
    assert f'<a class="appt" href="/appointments/{until_midnight.pk}/"' in tuesday


def test_the_panel_previews_the_move_and_offers_move_on_the_diary(client, front_desk, telehealth_appointment):
    client.force_login(front_desk)
    html = client.get(reverse("appointment-detail", args=[telehealth_appointment.pk]),
                      headers={"HX-Request": "true", "HX-Target": "panel"}).content.decode()
    assert f'data-move-start="{telehealth_appointment.pk}"' in html
    # The move section asks for its form when opened: the form alone, with its preview.
    slot = f"move-form-{telehealth_appointment.pk}"
    assert f'id="{slot}" hx-get="/appointments/{telehealth_appointment.pk}/move/"' in html
    form = client.get(reverse("appointment-move", args=[telehealth_appointment.pk]),
                      headers={"HX-Request": "true", "HX-Target": slot}).content.decode()
    assert "<html" not in form and "<form" in form and "Save move" in form
    assert f'hx-get="/appointments/{telehealth_appointment.pk}/move/preview/"' in form
    assert "another practitioner removes Telehealth" in form


def test_the_undo_view_of_an_r7_move_says_r7_again(client, front_desk, telehealth_appointment,
                                                   django_capture_on_commit_callbacks):
    client.force_login(front_desk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("appointment-move", args=[telehealth_appointment.pk]), {
            "practitioner": telehealth_appointment.practitioner_id, "location": telehealth_appointment.location_id,
            "date": "2030-03-04", "start_time": "12:00", "duration": "30"}, follow=True)
    html = response.content.decode()
    assert "and creates another new Zoom meeting; this one stops working." in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("appointment-undo"), {"token": _undo_token_from(html)}, follow=True)
    html = response.content.decode()
    assert "Undone: the appointment is back where it was." in html
    assert "re-created for the new time. The old link, meeting ID and passcode no longer work." in html
    appointment = Appointment.objects.select_related("zoom_meeting").get(pk=telehealth_appointment.pk)
    assert appointment.starts_at == MONDAY_10 and appointment.zoom_meeting.state == MeetingState.ACTIVE


def test_the_panel_move_form_lists_practitioners_and_locations_as_django_would(client, front_desk, book,
                                                                                practitioner_a, practitioner_b,
                                                                                location):
    """The move form's selects and inputs are drawn in Python (scheduling.forms.ListedSelect, _DrawnInput), not
    by Django's templates: the same options, the current ones selected, names escaped, a deactivated practitioner
    still listed, the inputs' values and attributes as Django writes them."""
    practitioner_b.display_name = "Dr <b>B</b>"
    practitioner_b.save()
    appointment = book(practitioner_a, MONDAY_10)
    practitioner_a.is_active = False
    practitioner_a.save()
    client.force_login(front_desk)
    html = client.get(reverse("appointment-move", args=[appointment.pk])).content.decode()  # without JavaScript
    assert f'<option value="{practitioner_a.pk}" selected>{practitioner_a}</option>' in html
    assert f'<option value="{practitioner_b.pk}">Dr &lt;b&gt;B&lt;/b&gt;</option>' in html
    assert f'<option value="{location.pk}" selected>{location}</option>' in html
    assert '<select name="practitioner" required id="id_practitioner">' in html
    assert html.count("<option") == 2 + 1 + 1 + 1  # two practitioners and "---------", one location and its "---"
    assert '<input type="date" name="date" value="2030-03-04" required id="id_date">' in html
    assert '<input type="time" name="start_time" value="10:00" step="300" required id="id_start_time">' in html
    assert '<input type="text" name="reason" maxlength="200" id="id_reason">' in html


def test_the_move_form_comes_when_its_section_opens_and_not_for_a_cancelled_appointment(client, front_desk, book,
                                                                                        practitioner_a):
    appointment = book(practitioner_a, MONDAY_10)
    client.force_login(front_desk)
    url = reverse("appointment-move", args=[appointment.pk])
    # Without JavaScript the section's link opens the whole appointment with its move form open.
    page = client.get(url).content.decode()
    assert "<details class=\"section\" open>\n      <summary>Move or change time</summary>" in page
    assert 'id="id_start_time"' in page and "Save move" in page
    services.appointment_cancel(actor=front_desk, appointment=appointment)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == reverse("appointment-detail", args=[appointment.pk])
