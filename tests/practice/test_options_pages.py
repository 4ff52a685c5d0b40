"""Options → Practice, Locations, Practitioners and their working hours (issue 8): practice admins only, through
the services, one audit event per change with its field changes, hostile input a form error and never a 500."""

from datetime import time

import pytest
from django.core.exceptions import ValidationError
from django.urls import include, path, resolve, reverse

from config import urls as project_urls
from practice.errors import ApplicationError
from practice.models import AuditEvent, Client, Location, Practice, Practitioner, WorkingHours
from practice.services import Shift, working_hours_set
from tests.conftest import make_user, sydney

# practice.urls first, so these pages answer whatever config/urls.py mounts at options/ (the stock admin used to
# catch /options/practice/); test_the_project_routes_the_pages_to_them says whether config does it itself.
urlpatterns = [path("", include("practice.urls")), *project_urls.urlpatterns]
handler403, handler404 = project_urls.handler403, project_urls.handler404
pytestmark = pytest.mark.urls(__name__)

PRACTICE_POST = {"name": "Harbourside", "phone": "02 9000 1234", "email": "desk@example.com",
                 "address": "1 Main St\r\nSydney", "time_zone": "Australia/Sydney", "opens_at": "07:00",
                 "closes_at": "19:00", "client_cancel_notice_hours": "24"}
LOCATION_POST = {"name": "Parramatta", "address": "88 Church St", "phone": "02 9000 5678", "colour": "#c2571a"}


def _events(object_type: str):
    return AuditEvent.objects.filter(object_type=object_type)


def _practitioner_post(location: Location | None, **overrides) -> dict:
    data = {"display_name": "Alice Allen", "profession": "Physiotherapist", "colour": "#2e7d6b",
            "default_location": location.pk if location else "", "is_active": "on"}
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def _week_post(rows: list[tuple[int, str, str, object]]) -> dict:
    data = {"shift-TOTAL_FORMS": str(len(rows)), "shift-INITIAL_FORMS": "0", "shift-MIN_NUM_FORMS": "0",
            "shift-MAX_NUM_FORMS": "1000"}
    for index, (weekday, starts, ends, location) in enumerate(rows):
        data.update({f"shift-{index}-weekday": str(weekday), f"shift-{index}-starts_at": starts,
                     f"shift-{index}-ends_at": ends,
                     f"shift-{index}-location": str(getattr(location, "pk", location or ""))})
    return data


def _hours_url(practitioner: Practitioner) -> str:
    return reverse("options-practitioner-hours", args=[practitioner.pk])


# Access ---------------------------------------------------------------------------------------------------------

@pytest.fixture
def every_url(practitioner_a, location):
    return [reverse("options-practice"), reverse("options-locations"), reverse("options-location-new"),
            reverse("options-location-edit", args=[location.pk]), reverse("options-practitioners"),
            reverse("options-practitioner-new"), reverse("options-practitioner-edit", args=[practitioner_a.pk]),
            _hours_url(practitioner_a)]


def test_the_pages_are_for_practice_admins_only(client, every_url, admin_user, front_desk, practitioner_a,
                                               location):
    toggle = reverse("options-location-active", args=[location.pk])
    for url in [*every_url, toggle]:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response.url, url
    for user in (front_desk, practitioner_a.user):
        client.force_login(user)
        for url in every_url:
            assert client.get(url).status_code == 403, url
        assert client.post(reverse("options-practice"), PRACTICE_POST).status_code == 403
        assert client.post(reverse("options-location-new"), LOCATION_POST).status_code == 403
        assert client.post(toggle, {"active": "0"}).status_code == 403
    assert Practice.load().name != "Harbourside" and Location.objects.get().is_active
    assert not AuditEvent.objects.exists()
    client.force_login(admin_user)
    for url in every_url:
        response = client.get(url)
        assert response.status_code == 200, url
        assert 'aria-label="Options"' in response.content.decode()  # in the Options layout, with its menu
    assert client.get(toggle).status_code == 405  # a POST only


def test_the_urls_are_the_ones_the_options_menu_expects():
    assert reverse("options-practice") == "/options/practice/"
    assert reverse("options-locations") == "/options/locations/"
    assert reverse("options-practitioners") == "/options/practitioners/"


@pytest.mark.urls("config.urls")
def test_the_project_routes_the_pages_to_them():
    assert resolve("/options/practice/").url_name == "options-practice"
    assert resolve("/options/locations/").url_name == "options-locations"
    assert resolve("/options/practitioners/1/hours/").url_name == "options-practitioner-hours"


# Practice -------------------------------------------------------------------------------------------------------

def test_editing_the_practice_writes_one_audit_event_with_old_and_new_values(client, admin_user, practice):
    client.force_login(admin_user)
    response = client.post(reverse("options-practice"), {**PRACTICE_POST, "phone": "(02) 90001234",
                                                        "time_zone": "Australia/Perth", "opens_at": "08:00"})
    assert response.status_code == 302 and response.url == reverse("options-practice")
    practice = Practice.load()
    assert (practice.name, practice.phone, practice.time_zone, practice.opens_at) == (
        "Harbourside", "(02) 9000 1234", "Australia/Perth", time(8))
    [event] = _events("practice")
    assert (event.action, event.actor) == ("practice.changed", admin_user)
    assert event.changes == {"name": ["Test Practice", "Harbourside"], "phone": ["", "(02) 9000 1234"],
                             "email": ["", "desk@example.com"], "address": ["", "1 Main St\r\nSydney"],
                             "time_zone": ["Australia/Sydney", "Australia/Perth"], "opens_at": ["07:00:00", "08:00:00"]}
    assert "Practice details saved." in client.get(reverse("options-practice")).content.decode()
    client.post(reverse("options-practice"), {**PRACTICE_POST, "time_zone": "Australia/Perth", "opens_at": "08:00"})
    assert _events("practice").count() == 1  # saved unchanged: nothing happened, so no event


def test_the_time_zone_is_a_select_of_real_zones(client, admin_user, practice):
    client.force_login(admin_user)
    html = client.get(reverse("options-practice")).content.decode()
    assert '<select name="time_zone"' in html and '<option value="Australia/Sydney" selected>' in html
    assert html.index('value="Africa/Abidjan"') < html.index('value="Australia/Sydney"')  # sorted
    response = client.post(reverse("options-practice"), {**PRACTICE_POST, "time_zone": "Mars/Olympus"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert Practice.load().time_zone == "Australia/Sydney" and not AuditEvent.objects.exists()


@pytest.mark.parametrize(("changes", "message"), [
    ({"opens_at": "19:00", "closes_at": "07:00"}, "Closing time must be after opening time."),
    ({"opens_at": "09:00", "closes_at": "09:00"}, "Closing time must be after opening time."),
    ({"opens_at": "07:10"}, "Use a quarter hour"),
    ({"phone": "12"}, "not a valid phone number"),
    ({"email": "not an email"}, "Enter a valid email address."),
])
def test_bad_practice_values_are_form_errors(client, admin_user, practice, changes, message):
    client.force_login(admin_user)
    response = client.post(reverse("options-practice"), {**PRACTICE_POST, **changes})
    assert response.status_code == 200 and message in response.content.decode()
    assert Practice.load().name == "Test Practice"


def test_the_model_refuses_what_the_page_refuses_on_every_path(practice):
    for name, value in [("time_zone", "Mars/Olympus"), ("phone", "not a phone"), ("opens_at", time(7, 7)),
                        ("address", "a\x00b")]:
        candidate = Practice.load()
        setattr(candidate, name, value)
        with pytest.raises(ValidationError):
            candidate.full_clean()
    candidate = Practice.load()
    candidate.opens_at, candidate.closes_at = time(18), time(8)
    with pytest.raises(ValidationError, match="Closing time"):
        candidate.full_clean()


# Locations ------------------------------------------------------------------------------------------------------

def test_adding_a_location_writes_one_audit_event_with_its_fields(client, admin_user, practice):
    client.force_login(admin_user)
    response = client.post(reverse("options-location-new"), {**LOCATION_POST, "is_telehealth": "on",
                                                              "colour": "#C2571A", "phone": "0290005678"})
    assert response.status_code == 302 and response.url == reverse("options-locations")
    location = Location.objects.get()
    assert (location.phone, location.colour, location.is_telehealth, location.is_active) == (
        "(02) 9000 5678", "#c2571a", True, True)
    [event] = _events("location")
    assert event.action == "location.created" and event.object_id == str(location.pk)
    assert event.changes == {"name": [None, "Parramatta"], "address": [None, "88 Church St"],
                             "phone": [None, "(02) 9000 5678"], "colour": [None, "#c2571a"],
                             "is_telehealth": [None, True], "is_active": [None, True]}
    html = client.get(reverse("options-locations")).content.decode()
    assert "Parramatta" in html and "--c: #c2571a" in html


def test_editing_a_location_writes_one_audit_event(client, admin_user, location):
    client.force_login(admin_user)
    response = client.post(reverse("options-location-edit", args=[location.pk]),
                           {"name": "Clinic", "address": "2 Main St", "phone": "", "colour": "#4f7cac",
                            "is_telehealth": "on"})
    assert response.status_code == 302
    [event] = _events("location")
    assert event.action == "location.changed"
    assert event.changes == {"address": ["1 Main St", "2 Main St"], "is_telehealth": [False, True]}


@pytest.mark.parametrize("name", ["Clinic", "clinic", "  CLINIC "])
def test_location_names_are_unique_whatever_their_capitals(client, admin_user, location, name):
    client.force_login(admin_user)
    response = client.post(reverse("options-location-new"), {**LOCATION_POST, "name": name})
    assert response.status_code == 200 and "already exists" in response.content.decode()
    assert Location.objects.count() == 1 and not AuditEvent.objects.exists()


def test_a_location_in_use_is_deactivated_never_deleted_and_can_come_back(client, admin_user, location, book,
                                                                           practitioner_a):
    book(practitioner_a, sydney(2030, 3, 4, 10))
    other = Location.objects.create(name="Other")
    client.force_login(admin_user)
    toggle = reverse("options-location-active", args=[location.pk])
    html = client.get(reverse("options-locations")).content.decode()
    assert "Deactivate Clinic" in html and "Delete" not in html
    assert client.post(toggle, {"active": "0"}).status_code == 302
    location.refresh_from_db()
    assert not location.is_active
    [event] = _events("location")
    assert (event.action, event.changes) == ("location.deactivated", {"is_active": [True, False]})
    assert "Reactivate Clinic" in client.get(reverse("options-locations")).content.decode()
    client.post(toggle, {"active": "1"})
    location.refresh_from_db()
    assert location.is_active and _events("location").count() == 2
    # The edit page has no delete button either: it says why.
    edit_page = client.get(reverse("options-location-edit", args=[location.pk])).content.decode()
    assert "Booked for 1 appointment, so it cannot be deleted" in edit_page and ">Delete<" not in edit_page
    assert other.is_active


def test_the_last_active_location_stays(client, admin_user, location):
    client.force_login(admin_user)
    response = client.post(reverse("options-location-active", args=[location.pk]), {"active": "0"}, follow=True)
    assert "Keep at least one active location" in response.content.decode()
    location.refresh_from_db()
    assert location.is_active and not AuditEvent.objects.exists()


# Practitioners --------------------------------------------------------------------------------------------------

def test_adding_a_practitioner_for_a_user_with_the_role(client, admin_user, location, front_desk):
    from practice import roles

    user = make_user("newbie", roles.PRACTITIONER)
    client.force_login(admin_user)
    html = client.get(reverse("options-practitioner-new")).content.decode()
    assert f'<option value="{user.pk}">Newbie (newbie)</option>' in html
    assert f'value="{front_desk.pk}"' not in html  # not a practitioner
    response = client.post(reverse("options-practitioner-new"),
                           {**_practitioner_post(location, display_name="Nina Newbie"), "user": user.pk})
    practitioner = Practitioner.objects.get(user=user)
    assert response.status_code == 302 and response.url == _hours_url(practitioner)
    [event] = _events("practitioner")
    assert event.action == "practitioner.created"
    assert event.changes["user"] == [None, "newbie"] and event.changes["display_name"] == [None, "Nina Newbie"]
    # A user with a profile, or without the role, is not offered and is refused if posted anyway.
    for other in (user, front_desk):
        response = client.post(reverse("options-practitioner-new"), {**_practitioner_post(location), "user": other.pk})
        assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert Practitioner.objects.count() == 1


def test_editing_a_practitioner_writes_one_audit_event(client, admin_user, practitioner_a, location):
    elsewhere = Location.objects.create(name="Elsewhere")
    client.force_login(admin_user)
    response = client.post(reverse("options-practitioner-edit", args=[practitioner_a.pk]),
                           _practitioner_post(elsewhere, colour="#AA0000", profession="Psychologist"))
    assert response.status_code == 302
    [event] = _events("practitioner")
    assert event.action == "practitioner.changed"
    assert event.changes == {"profession": ["Physiotherapist", "Psychologist"], "colour": ["#2e7d6b", "#aa0000"],
                             "default_location": [location.pk, elsewhere.pk]}


def test_a_practitioner_with_upcoming_appointments_stays_active(client, admin_user, practitioner_a, location,
                                                               book):
    book(practitioner_a, sydney(2099, 3, 4, 10))
    before = AuditEvent.objects.count()
    client.force_login(admin_user)
    response = client.post(reverse("options-practitioner-edit", args=[practitioner_a.pk]),
                           _practitioner_post(location, is_active=None))
    assert response.status_code == 200 and "1 upcoming appointment" in response.content.decode()
    practitioner_a.refresh_from_db()
    assert practitioner_a.is_active and AuditEvent.objects.count() == before


@pytest.mark.parametrize(("field", "value", "message"), [
    ("colour", "red", "#rrggbb"), ("colour", "#12345", "#rrggbb"), ("display_name", "A\r\nB", "one line"),
    ("display_name", "", "This field is required."), ("default_location", "99999999999999999999", "valid choice"),
])
def test_bad_practitioner_values_are_form_errors(client, admin_user, practitioner_a, location, field, value,
                                                message):
    client.force_login(admin_user)
    response = client.post(reverse("options-practitioner-edit", args=[practitioner_a.pk]),
                           _practitioner_post(location, **{field: value}))
    assert response.status_code == 200 and message in response.content.decode()
    assert not AuditEvent.objects.exists()


# Working hours --------------------------------------------------------------------------------------------------

def test_the_week_page_lists_each_days_shifts_and_an_empty_row_per_day(client, admin_user, practitioner_a):
    client.force_login(admin_user)
    html = client.get(_hours_url(practitioner_a)).content.decode()
    assert html.count('value="09:00"') == 7  # the fixture's Monday to Sunday shifts
    assert html.count('name="shift-TOTAL_FORMS" value="14"') == 1  # and an empty row for each day
    for day in ("Monday", "Sunday"):
        assert f">{day}<" in html


def test_saving_the_week_replaces_it_and_audits_once_old_to_new(client, admin_user, practitioner_a, location):
    west = Location.objects.create(name="West")
    client.force_login(admin_user)
    response = client.post(_hours_url(practitioner_a), _week_post([
        (0, "08:30", "12:30", location), (0, "13:30", "17:30", west), (2, "09:00", "17:00", location),
        (3, "", "", location),  # an unused row
    ]))
    assert response.status_code == 302
    stored = [str(shift) + f" {shift.location}" for shift in practitioner_a.working_hours.order_by(
        "weekday", "starts_at")]
    assert stored == ["Monday 08:30–12:30 Clinic", "Monday 13:30–17:30 West", "Wednesday 09:00–17:00 Clinic"]
    [event] = _events("practitioner")
    assert event.action == "practitioner.working_hours_set"
    old, new = event.changes["working_hours"]
    assert old[0] == "Mon 09:00–17:00 @ Clinic" and len(old) == 7
    assert new == ["Mon 08:30–12:30 @ Clinic", "Mon 13:30–17:30 @ West", "Wed 09:00–17:00 @ Clinic"]
    client.post(_hours_url(practitioner_a), _week_post([
        (0, "08:30", "12:30", location), (0, "13:30", "17:30", west), (2, "09:00", "17:00", location)]))
    assert _events("practitioner").count() == 1  # the same week again is no change


@pytest.mark.parametrize(("rows", "message"), [
    ([(0, "09:00", "13:00", None), (0, "12:00", "17:00", None)], "Mon 12:00–17:00 @ Clinic overlaps Mon 09:00–13:00"),
    ([(1, "09:00", "17:00", None), (1, "10:00", "11:00", None)], "overlaps"),
    ([(0, "17:00", "09:00", None)], "A shift must end after it starts."),
    ([(0, "09:00", "09:00", None)], "A shift must end after it starts."),
    ([(0, "09:00", "", None)], "Enter when the shift ends."),
    ([(0, "09:03", "10:00", None)], "five minutes"),
    ([(0, "09:00", "10:00", "")], "Choose where this shift is."),
    ([(7, "09:00", "10:00", None)], "Select a valid choice"),
    ([(0, "25:00", "26:00", None)], "Enter a valid time"),
])
def test_bad_weeks_are_refused_and_the_old_week_stays(client, admin_user, practitioner_a, location, rows, message):
    rows = [(day, starts, ends, location if where is None else where) for day, starts, ends, where in rows]
    client.force_login(admin_user)
    response = client.post(_hours_url(practitioner_a), _week_post(rows))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert practitioner_a.working_hours.count() == 7 and not AuditEvent.objects.exists()


def test_back_to_back_shifts_are_not_an_overlap(admin_user, practitioner_a, location):
    working_hours_set(actor=admin_user, practitioner=practitioner_a, shifts=[
        Shift(0, time(9), time(12), location), Shift(0, time(12), time(17), location)])
    assert practitioner_a.working_hours.count() == 2


def test_the_service_refuses_overlaps_whoever_calls_it(admin_user, practitioner_a, location):
    with pytest.raises(ApplicationError, match="overlaps"):
        working_hours_set(actor=admin_user, practitioner=practitioner_a, shifts=[
            Shift(4, time(9), time(12), location), Shift(4, time(11, 55), time(17), location)])
    with pytest.raises(ApplicationError, match="end after it starts"):
        working_hours_set(actor=admin_user, practitioner=practitioner_a, shifts=[Shift(4, time(12), time(9), location)])
    assert practitioner_a.working_hours.count() == 7 and not AuditEvent.objects.exists()


def test_a_crafted_week_of_thousands_of_rows_is_refused(client, admin_user, practitioner_a, location):
    client.force_login(admin_user)
    data = _week_post([(0, "09:00", "09:05", location)])
    data["shift-TOTAL_FORMS"] = "100000"
    response = client.post(_hours_url(practitioner_a), data)
    assert response.status_code == 200 and "Please submit at most 77 forms." in response.content.decode()
    assert practitioner_a.working_hours.count() == 7


# Hostile input --------------------------------------------------------------------------------------------------

HOSTILE = ["\x00", "a\x00b", "x" * 10_000, "😀👩🏽‍⚕️ 🇦🇺", "\u202eevil", "محمد العربي", "line1\r\nline2", "line1\nline2",
           "2147483647", "99999999999999999999", "-1", "²", "", " ", "#GGGGGG", "#fff", "rgb(0,0,0)",
           "<script>alert(1)</script>", "Mars/Olympus", "+61 4", "0412 345 678 ext 9", "24:00", "07:00:30",
           "9999-99-99"]


def _every_stored_row_is_valid() -> None:
    for model in (Practice, Location, Practitioner, WorkingHours):
        for row in model.objects.all():
            row.full_clean()


@pytest.mark.parametrize("field", list(PRACTICE_POST))
def test_hostile_practice_input_is_never_a_500_nor_stored_invalid(client, admin_user, practice, field):
    client.force_login(admin_user)
    for value in HOSTILE:
        response = client.post(reverse("options-practice"), {**PRACTICE_POST, field: value})
        assert response.status_code in (200, 302), (field, value)
        assert client.get(reverse("options-practice")).status_code == 200
    _every_stored_row_is_valid()
    assert all(event.changes for event in _events("practice"))


@pytest.mark.parametrize("field", [*LOCATION_POST, "is_telehealth"])
def test_hostile_location_input_is_never_a_500_nor_stored_invalid(client, admin_user, location, field):
    client.force_login(admin_user)
    for number, value in enumerate(HOSTILE):
        for url, base in ((reverse("options-location-new"), {**LOCATION_POST, "name": f"Fuzz {number}"}),
                          (reverse("options-location-edit", args=[location.pk]), {**LOCATION_POST, "name": "Clinic"})):
            response = client.post(url, {**base, field: value})
            assert response.status_code in (200, 302), (field, value)
        response = client.post(reverse("options-location-active", args=[location.pk]), {"active": value})
        assert response.status_code == 302
    assert client.get(reverse("options-locations")).status_code == 200
    _every_stored_row_is_valid()


@pytest.mark.parametrize("field", ["display_name", "profession", "colour", "default_location", "is_active"])
def test_hostile_practitioner_input_is_never_a_500_nor_stored_invalid(client, admin_user, practitioner_a, location,
                                                                     field):
    client.force_login(admin_user)
    for value in HOSTILE:
        response = client.post(reverse("options-practitioner-edit", args=[practitioner_a.pk]),
                               _practitioner_post(location, **{field: value}))
        assert response.status_code in (200, 302), (field, value)
        response = client.post(reverse("options-practitioner-new"), {**_practitioner_post(location), "user": value})
        assert response.status_code == 200, value
    assert client.get(reverse("options-practitioners")).status_code == 200
    _every_stored_row_is_valid()


@pytest.mark.parametrize("column", [0, 1, 2, 3])
def test_hostile_working_hours_are_never_a_500_nor_stored_invalid(client, admin_user, practitioner_a, location,
                                                                 column):
    client.force_login(admin_user)
    for value in HOSTILE:
        row = [0, "09:00", "17:00", location.pk]
        row[column] = value
        response = client.post(_hours_url(practitioner_a), _week_post([tuple(row)]))
        assert response.status_code in (200, 302), (column, value)
    for value in ("-1", "abc", "99999999999999999999", "\x00"):  # -1 is no rows: an empty week, which is allowed
        response = client.post(_hours_url(practitioner_a), {**_week_post([]), "shift-TOTAL_FORMS": value})
        assert response.status_code in (200, 302), value
    assert client.get(_hours_url(practitioner_a)).status_code == 200
    _every_stored_row_is_valid()


# Model-level validation of client data --------------------------------------------------------------------------

@pytest.mark.parametrize("mobile", ["not a phone <b>", "0412 345 678", "+61 412 345 678", "+61290001234", "+614"])
def test_a_client_mobile_must_be_a_valid_mobile_in_e164(mobile):
    with pytest.raises(ValidationError):
        Client(first_name="A", last_name="B", mobile=mobile).full_clean()


@pytest.mark.parametrize(("field", "value"), [("notes", "a\x00b"), ("notes", "x" * 5001),
                                               ("first_name", "A\nB")])
def test_other_client_fields_are_bounded_at_the_model(field, value):
    client = Client(first_name="A", last_name="B", mobile="+61412345678")
    setattr(client, field, value)
    with pytest.raises(ValidationError):
        client.full_clean()


def test_the_client_services_refuse_what_the_model_refuses(front_desk, client_record):
    from practice.services import client_create, client_update

    with pytest.raises(ApplicationError, match="mobile"):
        client_create(actor=front_desk, first_name="A", last_name="B", mobile="not a phone")
    with pytest.raises(ApplicationError):
        client_update(actor=front_desk, client=client_record, mobile="0412 345 678")
    client_record.refresh_from_db()
    assert client_record.mobile == "+61412345678" and not Client.objects.filter(first_name="A").exists()


@pytest.mark.parametrize("colour", ["red", "#12345", "#1234567", "#GGGGGG"])
def test_colours_are_hex_at_the_model(location, practitioner_a, colour):
    for obj in (location, practitioner_a):
        obj.colour = colour
        with pytest.raises(ValidationError):
            obj.full_clean()


def test_working_hours_end_after_start_at_the_model(practitioner_a, location):
    with pytest.raises(ValidationError, match="end after it starts"):
        WorkingHours(practitioner=practitioner_a, weekday=0, starts_at=time(10), ends_at=time(9),
                     location=location).full_clean()
