"""Options → Audit trail (issue 8): read-only, filtered by who, what, object and date, in the practice's zone."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from practice import roles
from practice.audit import audit_record
from practice.models import AuditEvent, Location
from tests.conftest import make_user

URL = "/options/audit/"


@pytest.fixture
def admin_client(client, admin_user, practice):
    client.force_login(admin_user)
    return client


@pytest.fixture
def events(admin_user, front_desk, location):
    """Three events: the admin at 23:30 UTC on 3 March (10:30 on the 4th in Sydney), the front desk, the system."""
    with time_machine.travel(datetime(2030, 3, 3, 23, 30, tzinfo=UTC), tick=False):
        audit_record(actor=admin_user, action="location.changed", obj=location, summary="Location Clinic changed",
                     changes={"name": ["Clinic", "Main clinic"], "is_telehealth": [False, True]})
    with time_machine.travel(datetime(2030, 3, 5, 1, 0, tzinfo=UTC), tick=False):
        audit_record(actor=front_desk, action="user.password_set", obj=front_desk, summary="Password set",
                     changes={"password": "changed"})
    with time_machine.travel(datetime(2030, 3, 6, 1, 0, tzinfo=UTC), tick=False):
        audit_record(actor=None, action="reminder.sent", obj=location, summary="Scheduler ran")
    return list(AuditEvent.objects.order_by("pk"))


def _summaries(response) -> list[str]:
    return [row["event"].summary for row in response.context["rows"]]


def test_it_shows_time_in_the_practice_zone_actor_object_and_changes(admin_client, events, admin_user):
    html = admin_client.get(URL).content.decode()
    assert "04 Mar 2030 10:30:00" in html  # 23:30 UTC on the 3rd is 10:30 on the 4th in Sydney (AEDT)
    assert admin_user.get_full_name() in html and "System" in html
    assert "location.changed" in html and "location #" in html
    assert "Clinic</span> → <span class=\"new\">Main clinic" in html
    assert "<strong>password</strong>: <em>changed</em>" in html
    assert "<title>Audit trail" in html


def test_it_keeps_the_actor_name_of_a_renamed_user(admin_client, events, admin_user):
    admin_user.first_name = "Renamed"
    admin_user.save()
    html = admin_client.get(URL, {"action": "location.changed"}).content.decode()
    assert events[0].actor_name in html


@pytest.mark.parametrize(("params", "expected"), [
    ({}, ["Scheduler ran", "Password set", "Location Clinic changed"]),
    ({"actor": "system"}, ["Scheduler ran"]),
    ({"action": "user.password_set"}, ["Password set"]),
    ({"object_type": "location"}, ["Scheduler ran", "Location Clinic changed"]),
    ({"date_from": "2030-03-04", "date_to": "2030-03-04"}, ["Location Clinic changed"]),  # Sydney's 4 March
    ({"date_from": "2030-03-05"}, ["Scheduler ran", "Password set"]),
    ({"date_to": "2030-03-03"}, []),
])
def test_the_filters(admin_client, events, params, expected):
    assert _summaries(admin_client.get(URL, params)) == expected


def test_filter_by_who_and_by_object(admin_client, events, front_desk, location):
    assert _summaries(admin_client.get(URL, {"actor": str(front_desk.pk)})) == ["Password set"]
    assert _summaries(admin_client.get(URL, {"object_type": "location", "object_id": str(location.pk),
                                             "actor": "system"})) == ["Scheduler ran"]


@pytest.mark.parametrize("params", [
    {"actor": "\x00"}, {"actor": "9999999999999999999999"}, {"actor": "-1"}, {"action": "no.such"},
    {"action": "a\x00b"}, {"object_type": "x" * 10_000}, {"object_id": "\x00"}, {"object_id": "x" * 10_000},
    {"date_from": "2030-02-30"}, {"date_from": "99999-01-01"}, {"date_to": "0001-01-01"},
    {"date_from": "\x00"}, {"date_from": "2030-03-05", "date_to": "2030-03-04"}, {"actor": "😀"},
    {"action": "\u202eevil"}, {"object_type": "line\r\nbreak"},
])
def test_bad_filters_are_form_errors_and_an_empty_list(admin_client, events, params):
    response = admin_client.get(URL, params)
    assert response.status_code == 200
    assert response.context["form"].errors and _summaries(response) == []
    assert "Check the filters" in response.content.decode()


@pytest.mark.parametrize("params", [
    {"object_id": "9999999999999999999999"}, {"object_id": "😀"}, {"object_id": "-1"},
    {"page": "9999999999999999999999"}, {"page": "\x00"}, {"page": "1e309"}, {"page": "-5"},
])
def test_odd_but_harmless_values_just_match_nothing_or_turn_the_page(admin_client, events, params):
    assert admin_client.get(URL, params).status_code == 200


def test_nobody_can_change_anything_here(admin_client, events):
    html = admin_client.get(URL).content.decode()
    assert 'method="post"' not in html.split('<main', 1)[1].split("</main>")[0]
    assert admin_client.post(URL, {"action": "x"}).status_code == 405
    assert AuditEvent.objects.count() == len(events)


def test_pages_keep_the_filters(admin_client, admin_user, location):
    for n in range(120):
        audit_record(actor=admin_user, action="location.changed", obj=location, summary=f"change {n}")
    audit_record(actor=None, action="reminder.sent", obj=location, summary="other")
    response = admin_client.get(URL, {"action": "location.changed"})
    page = response.context["page"]
    assert page.paginator.count == 120 and len(response.context["rows"]) == 50
    assert "action=location.changed&amp;page=2" in response.content.decode()
    assert _summaries(admin_client.get(URL, {"action": "location.changed", "page": "3"}))[-1] == "change 0"


def test_the_query_count_is_the_same_for_every_page(admin_client, admin_user, location):
    audit_record(actor=admin_user, action="location.changed", obj=location, summary="first")
    admin_client.get(URL)  # the session's first request does more
    with CaptureQueriesContext(connection) as one:
        admin_client.get(URL)
    for n in range(60):
        actor = make_user(f"user{n}", roles.FRONT_DESK) if n % 10 == 0 else admin_user
        audit_record(actor=actor, action=f"thing{n % 7}.changed", obj=location, summary=f"change {n}",
                     changes={"name": [str(n), str(n + 1)]})
    for params in ({}, {"page": "2"}, {"actor": str(admin_user.pk)}, {"object_type": "location"}):
        with CaptureQueriesContext(connection) as full:
            admin_client.get(URL, params)
        assert len(full.captured_queries) == len(one.captured_queries), params


@pytest.mark.parametrize("who", ["front_desk", "practitioner_a"])
def test_other_roles_are_refused(client, request, who):
    user = request.getfixturevalue(who)
    client.force_login(getattr(user, "user", user))
    assert client.get(URL).status_code == 403


def test_anonymous_goes_to_the_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_the_side_menu_leads_here(admin_client):
    html = admin_client.get(reverse("options")).content.decode()
    assert 'href="/options/audit/"' in html and 'href="/options/users/"' in html


def test_a_location_has_its_own_history_link(admin_client, events, location):
    html = admin_client.get(URL).content.decode()
    assert f"?object_type=location&amp;object_id={location.pk}" in html
    assert Location.objects.filter(pk=location.pk).exists()
