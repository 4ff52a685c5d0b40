"""RELIABILITY.md 25: what cannot work later is refused when it is saved, and Options (the admin) answers hostile
input with a form error or an empty list, never a 500."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from practice.models import Client, Location, Practice, Practitioner


@pytest.fixture
def superuser(db):
    """The stock admin (/django-admin/) is for superusers only (issue 8); its guards still matter there."""
    from django.contrib.auth.models import User

    return User.objects.create_superuser("root", "root@example.com", "Root-account-password-1")


@pytest.mark.parametrize("name", ["Harbour\r\nBcc: everyone@example.com", "Harbour\nside", "Harbour\x00side",
                                  "Harbour\tside", "Harbour\x1bside"])
def test_a_practice_name_with_control_characters_is_refused_on_save(practice, name):
    """It goes into every email's From and Subject: CR/LF there fails every email with BadHeaderError."""
    practice.name = name
    with pytest.raises(ValidationError) as error:
        practice.full_clean()
    assert "one line" in str(error.value)


@pytest.mark.parametrize("name", ["Harbourside Allied Health", "Physio «Ost» · Zürich", "عيادة الميناء", "😀 Care"])
def test_ordinary_names_in_any_script_are_fine(practice, name):
    practice.name = name
    practice.full_clean()


def test_options_refuse_a_practice_name_with_a_line_break(client, superuser, practice):
    client.force_login(superuser)
    url = reverse("admin:practice_practice_change", args=[practice.pk])
    response = client.post(url, {"name": "Harbour\r\nside", "time_zone": "Australia/Sydney", "phone": "",
                                 "email": "", "address": "", "opens_at": "07:00", "closes_at": "19:00"})
    assert response.status_code == 200
    assert "without line breaks" in response.content.decode()
    assert Practice.load().name == "Test Practice"


@pytest.mark.parametrize(("model", "field"), [(Location, "name"), (Location, "phone"), (Practice, "phone"),
                                              (Practitioner, "display_name"), (Practitioner, "profession"),
                                              (Client, "first_name"), (Client, "last_name"),
                                              (Client, "preferred_name")])
def test_every_name_that_reaches_a_message_is_one_line(model, field):
    with pytest.raises(ValidationError):
        for validator in model._meta.get_field(field).validators:
            validator("A\r\nB")


def test_the_client_form_refuses_a_line_break_in_a_name(client, front_desk):
    client.force_login(front_desk)
    response = client.post(reverse("client-new"), {"first_name": "Casey\r\nX", "last_name": "Client",
                                                   "sms_reminders": "on"})
    assert response.status_code == 200
    assert not Client.objects.exists()


@pytest.mark.parametrize("year", ["9999999999999999999999", "-9999999999999999999999"])
def test_an_absurd_year_in_the_audit_drill_down_is_a_bad_lookup(client, superuser, year):
    client.force_login(superuser)
    response = client.get(reverse("admin:practice_auditevent_changelist"), {"at__year": year})
    assert response.status_code == 302 and "e=1" in response.url


@pytest.mark.parametrize(("url_name", "params"), [
    ("admin:practice_auditevent_changelist", {"action": "\x00"}),
    ("admin:practice_practitioner_changelist", {"profession": "a\x00b"}),
    ("admin:scheduling_appointment_changelist", {"status__exact": "\x00"}),
])
def test_a_nul_in_an_options_filter_is_a_bad_lookup(client, superuser, url_name, params):
    """On PostgreSQL a NUL reaching the query is a DataError (a 500), even in a filter."""
    client.force_login(superuser)
    response = client.get(reverse(url_name), params)
    assert response.status_code == 302 and "e=1" in response.url


@pytest.mark.parametrize("group", ["9999999999999999999999", "2147483648", "-9999999999999999999999"])
def test_an_out_of_range_group_is_an_invalid_choice(client, superuser, front_desk, group):
    client.force_login(superuser)
    url = reverse("admin:auth_user_change", args=[front_desk.pk])
    response = client.post(url, {"username": "frontdesk", "groups": [group], "is_active": "on",
                                 "date_joined_0": "2030-01-01", "date_joined_1": "09:00"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert front_desk.groups.count() == 1


@pytest.mark.parametrize("pk", ["²", "9999999999999999999999", "-1", "\x00"])
def test_a_hostile_chosen_client_in_the_booking_form_is_no_client(pk, client_record):
    from practice.selectors import client_search_chosen

    assert client_search_chosen(pk) is None
