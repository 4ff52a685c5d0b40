"""Options → Appointment types (issue 8): admin pages through the services, audited, validated on every path."""

import json
import re
from html import unescape

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import include, path, resolve, reverse

from config import urls as project_urls
from practice.errors import ApplicationError
from practice.models import AuditEvent
from scheduling import services
from scheduling.models import AppointmentType
from tests.conftest import sydney

LIST, NEW = "options-appointment-types", "options-appointment-type-new"

# config/urls.py mounts the stock admin at options/ before scheduling.urls, and the admin's catch-all answers
# /options/appointment-types/ first. Until config includes the apps' Options pages before it, these tests route
# with scheduling's URLs first; test_the_project_routes_the_pages_to_them says whether config does yet.
urlpatterns = [path("", include("scheduling.urls")), *project_urls.urlpatterns]
handler403, handler404 = project_urls.handler403, project_urls.handler404
pytestmark = pytest.mark.urls(__name__)


def _edit_url(appointment_type: AppointmentType) -> str:
    return reverse("options-appointment-type-edit", args=[appointment_type.pk])


def _post(**overrides) -> dict:
    data = {"name": "Initial consult", "default_duration": "60", "colour": "#2e7d6b", "is_active": "on"}
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def _type_events():
    return AuditEvent.objects.filter(object_type="appointmenttype")


# Access --------------------------------------------------------------------------------------------------------

def test_it_is_for_practice_admins_only(client, admin_user, front_desk, practitioner_a, appointment_type):
    urls = [reverse(LIST), reverse(NEW), _edit_url(appointment_type)]
    for url in urls:
        assert client.get(url).status_code == 302  # anonymous: to the login page
        assert client.post(url, _post()).status_code == 302
    for user in (front_desk, practitioner_a.user):
        client.force_login(user)
        for url in urls:
            assert client.get(url).status_code == 403
            if url != reverse(LIST):  # the list is GET only (405 for everyone)
                assert client.post(url, _post(name=f"By {user.username}")).status_code == 403
    assert not AppointmentType.objects.filter(name__startswith="By ").exists()
    client.force_login(admin_user)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200
        assert 'aria-label="Options"' in response.content.decode()  # in the Options layout, with its menu


def test_the_urls_are_under_options():
    assert reverse(LIST) == "/options/appointment-types/"
    assert reverse(NEW) == "/options/appointment-types/new/"


@pytest.mark.urls("config.urls")
def test_the_project_routes_the_pages_to_them():
    assert resolve("/options/appointment-types/").url_name == LIST
    assert resolve("/options/appointment-types/1/").url_name == "options-appointment-type-edit"


def test_the_list_shows_each_type_with_its_colour_and_use(client, admin_user, appointment_type, book,
                                                          practitioner_a):
    book(practitioner_a, sydney(2030, 3, 4, 10))
    AppointmentType.objects.create(name="Old type", is_active=False, colour="#aa0000")
    client.force_login(admin_user)
    html = client.get(reverse(LIST)).content.decode()
    assert "Standard" in html and "Old type" in html and "Inactive" in html
    assert "--c: #aa0000" in html
    assert re.search(r"Standard</td>.*?<td>1</td>", html, re.S)  # booked once


# Adding and editing: one audit event with the field changes --------------------------------------------------

def test_adding_a_type_writes_one_audit_event_with_its_fields(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse(NEW), _post(usually_telehealth="on", colour="#2E7D6B"))
    assert response.status_code == 302 and response.url == reverse(LIST)
    created = AppointmentType.objects.get(name="Initial consult")
    assert (created.default_duration, created.colour, created.is_active, created.usually_telehealth) == (
        60, "#2e7d6b", True, True)
    [event] = _type_events()
    assert (event.action, event.actor, event.object_id) == ("appointment_type.created", admin_user, str(created.pk))
    assert event.changes == {"name": [None, "Initial consult"], "default_duration": [None, 60],
                             "colour": [None, "#2e7d6b"], "is_active": [None, True],
                             "usually_telehealth": [None, True]}


def test_editing_a_type_writes_one_audit_event_with_old_and_new_values(client, admin_user, appointment_type):
    client.force_login(admin_user)
    response = client.post(_edit_url(appointment_type), _post(name="Standard", default_duration="45",
                                                              colour="#6b8fd6", usually_telehealth="on"))
    assert response.status_code == 302
    appointment_type.refresh_from_db()
    assert (appointment_type.default_duration, appointment_type.usually_telehealth) == (45, True)
    [event] = _type_events()
    assert event.action == "appointment_type.changed" and event.actor == admin_user
    assert event.changes == {"default_duration": [30, 45], "usually_telehealth": [False, True]}


def test_saving_a_type_unchanged_writes_no_event(client, admin_user, appointment_type):
    client.force_login(admin_user)
    assert client.post(_edit_url(appointment_type), _post(name="Standard", default_duration="30",
                                                          colour="#6b8fd6")).status_code == 302
    assert not _type_events().exists()


# Rules ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["standard", "STANDARD", "  Standard  "])
def test_names_are_unique_whatever_their_capitals(client, admin_user, appointment_type, name):
    client.force_login(admin_user)
    response = client.post(reverse(NEW), _post(name=name))
    assert response.status_code == 200
    assert "An appointment type called “Standard” already exists" in response.content.decode()
    assert AppointmentType.objects.count() == 1 and not _type_events().exists()


def test_renaming_a_type_to_another_types_name_is_refused_but_its_own_capitals_may_change(
        client, admin_user, appointment_type):
    other = AppointmentType.objects.create(name="Review")
    client.force_login(admin_user)
    assert client.post(_edit_url(other), _post(name="standard")).status_code == 200
    assert client.post(_edit_url(appointment_type), _post(name="STANDARD", default_duration="30",
                                                          colour="#6b8fd6")).status_code == 302
    assert set(AppointmentType.objects.values_list("name", flat=True)) == {"STANDARD", "Review"}


def test_the_service_and_the_database_refuse_a_name_taken_in_other_capitals(admin_user, appointment_type):
    with pytest.raises(ApplicationError, match="already exists"):
        services.appointment_type_create(actor=admin_user, name="sTaNdArD", default_duration=30, colour="#123456")
    with pytest.raises(IntegrityError), transaction.atomic():
        AppointmentType.objects.create(name="STANDARD")  # no validation at all: the constraint still holds


@pytest.mark.parametrize(("field", "value"), [
    ("default_duration", 4), ("default_duration", 721), ("default_duration", 2147483647),
    ("colour", "red"), ("colour", "#12345"), ("colour", "#gggggg"), ("colour", "#1234567"),
    ("name", "a\x00b"), ("name", "Line\r\nBreak"), ("name", "\u202eevil"), ("name", "   "), ("name", "x" * 81),
])
def test_the_model_refuses_what_the_page_refuses(admin_user, appointment_type, field, value):
    """Every path that validates (services, the stock admin, a command calling full_clean) gets the same rules."""
    candidate = AppointmentType(name="New", default_duration=30, colour="#123456")
    setattr(candidate, field, value)
    with pytest.raises(ValidationError):
        candidate.full_clean()
    values = {"name": "New", "default_duration": 30, "colour": "#123456", field: value}
    with pytest.raises(ApplicationError):
        services.appointment_type_create(actor=admin_user, **values)
    with pytest.raises(ApplicationError):
        services.appointment_type_update(actor=admin_user, appointment_type=appointment_type, is_active=True,
                                         usually_telehealth=False, **values)
    assert AppointmentType.objects.count() == 1 and not _type_events().exists()


def test_a_type_in_use_is_deactivated_never_deleted(client, admin_user, front_desk, appointment_type, book,
                                                    practitioner_a):
    AppointmentType.objects.create(name="Review")
    appointment = book(practitioner_a, sydney(2030, 3, 4, 10))
    client.force_login(admin_user)
    html = client.get(_edit_url(appointment_type)).content.decode()
    assert "Booked for 1 appointment, so it cannot be deleted" in html and "Delete" not in html
    assert client.post(_edit_url(appointment_type), _post(name="Standard", default_duration="30",
                                                          colour="#6b8fd6", is_active=None)).status_code == 302
    appointment.refresh_from_db()
    assert appointment.appointment_type == appointment_type and not appointment.appointment_type.is_active
    client.force_login(front_desk)
    booking = client.get(reverse("appointment-new")).content.decode()
    type_select = re.search(r'<select name="appointment_type".*?</select>', booking, re.S)
    assert type_select is not None
    assert "Standard" not in type_select.group(0) and "Review" in type_select.group(0)  # no longer offered


def test_the_last_active_type_cannot_be_deactivated(client, admin_user, appointment_type):
    client.force_login(admin_user)
    response = client.post(_edit_url(appointment_type), _post(name="Standard", default_duration="30",
                                                              colour="#6b8fd6", is_active=None))
    assert response.status_code == 200
    assert "Keep at least one active appointment type" in response.content.decode()
    appointment_type.refresh_from_db()
    assert appointment_type.is_active and not _type_events().exists()


# Usually telehealth: pre-ticks Telehealth in the booking form -----------------------------------------------

def test_the_booking_form_tells_the_script_which_types_are_usually_telehealth(client, front_desk, appointment_type):
    video = AppointmentType.objects.create(name="Video consult", default_duration=45, usually_telehealth=True)
    AppointmentType.objects.create(name="Retired video", usually_telehealth=True, is_active=False)
    client.force_login(front_desk)
    html = client.get(reverse("appointment-new")).content.decode()
    match = re.search(r'data-telehealth="([^"]*)"', html)
    assert match is not None
    assert json.loads(unescape(match.group(1))) == {str(appointment_type.pk): False, str(video.pk): True}


def _telehealth_box(html: str) -> str:
    match = re.search(r'<input[^>]*name="is_telehealth"[^>]*>', html)
    assert match is not None
    return match.group(0)


def test_opening_the_booking_form_with_a_telehealth_type_pre_ticks_telehealth(client, front_desk, appointment_type):
    video = AppointmentType.objects.create(name="Video consult", default_duration=45, usually_telehealth=True)
    client.force_login(front_desk)
    html = client.get(reverse("appointment-new"), {"type": video.pk}).content.decode()
    assert "checked" in _telehealth_box(html)
    assert re.search(rf'<option value="{video.pk}" selected>', html)
    plain = client.get(reverse("appointment-new"), {"type": appointment_type.pk}).content.decode()
    assert "checked" not in _telehealth_box(plain)
    # An unknown, inactive or hostile type opens the form as usual.
    for value in ("999999", "99999999999999999999", "²", "x"):
        assert "checked" not in _telehealth_box(client.get(reverse("appointment-new"), {"type": value}
                                                            ).content.decode())


def test_the_pre_tick_is_only_a_suggestion_the_booking_keeps_what_was_posted(client, front_desk, practitioner_a,
                                                                           client_record, location):
    video = AppointmentType.objects.create(name="Video consult", default_duration=45, usually_telehealth=True)
    client.force_login(front_desk)
    response = client.post(reverse("appointment-new"), {
        "client": client_record.pk, "practitioner": practitioner_a.pk, "date": "2030-03-04", "start_time": "10:00",
        "appointment_type": video.pk, "location": location.pk})  # Telehealth unticked by the person
    assert response.status_code == 302
    from scheduling.models import Appointment

    assert not Appointment.objects.get().is_telehealth


# Fuzz ----------------------------------------------------------------------------------------------------------

HOSTILE = ["\x00", "a\x00b", "x" * 10_000, "😀👩🏽‍⚕️ 🇦🇺", "\u202eevil.exe", "محمد العربي", "line1\r\nline2",
           "2147483647", "99999999999999999999", "-1", "1e309", "²", "１２", "NaN", "", " ", "#GGGGGG", "#fff",
           "#12345678", "rgb(0,0,0)", "<script>alert(1)</script>", "#000000;background:url(x)"]
# Which hostile values are fine for which field (everything else must be a form error).
ACCEPTABLE = {"name": {"😀👩🏽‍⚕️ 🇦🇺", "محمد العربي", "2147483647", "99999999999999999999", "-1", "1e309", "²",
                       "１２", "NaN", "#GGGGGG", "#fff", "#12345678", "rgb(0,0,0)", "<script>alert(1)</script>",
                       "#000000;background:url(x)"},
              "default_duration": {"１２"},  # full-width digits are twelve minutes to Python, and in range
              "colour": set(), "is_active": set(HOSTILE), "usually_telehealth": set(HOSTILE)}


@pytest.mark.parametrize("field", ["name", "default_duration", "colour", "is_active", "usually_telehealth"])
def test_hostile_input_is_a_form_error_never_a_500_and_nothing_invalid_is_stored(client, admin_user, field):
    existing = AppointmentType.objects.create(name="Existing", default_duration=30, colour="#6b8fd6")
    AppointmentType.objects.create(name="Spare")  # so that Existing may be deactivated
    client.force_login(admin_user)
    saved = 0
    for number, value in enumerate(HOSTILE):
        for url, base in ((reverse(NEW), _post(name=f"Fuzz {number}")),
                          (_edit_url(existing), _post(name="Existing", default_duration="30", colour="#6b8fd6"))):
            response = client.post(url, {**base, field: value})
            assert response.status_code in (200, 302), (field, value, url)
            if value in ACCEPTABLE[field]:
                saved += response.status_code == 302
            else:
                assert response.status_code == 200 and "has-error" in response.content.decode(), (field, value)
        existing.refresh_from_db()
    for stored in AppointmentType.objects.all():
        stored.full_clean()  # every stored type is one the page would accept
    assert _type_events().count() <= saved and all(event.changes for event in _type_events())
    assert client.get("/options/appointment-types/99999999999999999999/").status_code == 404
