"""RELIABILITY.md 11, 12, 16: default deny, a table of (role, URL, method) → status, CSRF everywhere."""

import pytest
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from practice import roles
from scheduling.models import Appointment
from tests.conftest import sydney

ANON, DESK, PRAC, ADMIN = "anonymous", "front desk", "practitioner", "admin"


@pytest.fixture
def world(front_desk, admin_user, practitioner_a, practitioner_b, book, client_record):
    """practitioner_a (user alice) is the logged-in practitioner; "other" belongs to practitioner_b."""
    return {
        "users": {DESK: front_desk, PRAC: practitioner_a.user, ADMIN: admin_user},
        "own": book(practitioner_a, sydney(2030, 3, 4, 9)),
        "other": book(practitioner_b, sydney(2030, 3, 4, 9)),
        "client": client_record,
    }


def _url(world, name: str) -> str:
    if name == "telehealth-send:other":
        return reverse("telehealth-send", args=[world["other"].pk, "sms"])
    if name.startswith("appointment-") and name not in ("appointment-new", "appointment-undo"):
        name, _, which = name.rpartition(":")
        return reverse(name, args=[world[which].pk])
    if name in ("client-detail", "client-edit"):
        return reverse(name, args=[world["client"].pk])
    if name.startswith("zoom-connection") and name != "zoom-connections":
        return reverse(name, args=[world["other"].practitioner_id])
    if name in ("message-action:other", "scheduled-reminder-action:other"):
        name = name.partition(":")[0]
        return reverse(name, args=[world["other"].pk, 999999, "sent" if name == "message-action" else "send"])
    if name.startswith("options-location-") and name != "options-location-new":
        return reverse(name, args=[world["own"].location_id])
    if name.startswith("options-practitioner-") and name != "options-practitioner-new":
        return reverse(name, args=[world["own"].practitioner_id])
    if name.startswith("options-user-") and name != "options-user-new":
        return reverse(name, args=[world["users"][DESK].pk])
    if name == "options-appointment-type-edit":
        return reverse(name, args=[world["own"].appointment_type_id])
    if name == "attention-sweep":
        return reverse(name, args=[0])  # no such sweep: the role check comes first, then 404
    if name == "calendar-feed":
        return reverse(name, args=["not.a.token"])  # public: the token is the credential, a bad one is 404
    if name == "options-calendar-feed-off":
        return reverse(name, args=[world["other"].practitioner_id])
    if name.startswith("client-page"):
        return reverse(name, args=["aaaaaaaaaaaaa"])  # no such code: a plain 404 for everyone, never a login
    if name in ("inbox-message", "inbox-handled"):
        return reverse(name, args=[999999])
    if name.startswith("attention-"):
        return reverse(name, args=[0, "resolve"])  # no such row: the role check comes first, then 404
    return reverse(name)


# (url name[:own|other], method, data) → status for anonymous, front desk, practitioner, admin.
# 302 for anonymous is the redirect to the login page; 302 for others is "done, back to the diary".
TABLE = [
    ("diary", "get", None, {ANON: 302, DESK: 200, PRAC: 200, ADMIN: 200}),
    ("diary-week", "get", None, {ANON: 302, DESK: 200, PRAC: 200, ADMIN: 200}),
    ("day-sheet", "get", None, {ANON: 302, DESK: 200, PRAC: 200, ADMIN: 200}),
    ("appointment-new", "get", None, {ANON: 302, DESK: 200, PRAC: 200, ADMIN: 200}),
    ("appointment-new", "post", {}, {ANON: 302, DESK: 200, PRAC: 200, ADMIN: 200}),
    ("appointment-detail:own", "get", None, {ANON: 302, DESK: 200, PRAC: 200, ADMIN: 200}),
    ("appointment-detail:other", "get", None, {ANON: 302, DESK: 200, PRAC: 200, ADMIN: 200}),
    ("appointment-status:own", "post", {"status": "arrived"}, {ANON: 302, DESK: 302, PRAC: 302, ADMIN: 302}),
    ("appointment-status:other", "post", {"status": "arrived"}, {ANON: 302, DESK: 302, PRAC: 403, ADMIN: 302}),
    ("appointment-move:own", "post", {}, {ANON: 302, DESK: 200, PRAC: 200, ADMIN: 200}),
    ("appointment-move:other", "post", {}, {ANON: 302, DESK: 200, PRAC: 403, ADMIN: 200}),
    ("appointment-cancel:own", "post", {}, {ANON: 302, DESK: 302, PRAC: 302, ADMIN: 302}),
    ("appointment-cancel:other", "post", {}, {ANON: 302, DESK: 302, PRAC: 403, ADMIN: 302}),
    ("appointment-reinstate:other", "post", {}, {ANON: 302, DESK: 200, PRAC: 403, ADMIN: 200}),
    ("appointment-detail:own", "post", {}, {ANON: 302, DESK: 405, PRAC: 405, ADMIN: 405}),
    # The move form, asked for when the panel's move section opens.
    ("appointment-move:own", "get", None, {ANON: 302, DESK: 200, PRAC: 200, ADMIN: 200}),
    ("appointment-move:other", "get", None, {ANON: 302, DESK: 200, PRAC: 403, ADMIN: 200}),
    ("appointment-move-preview:own", "get", None, {ANON: 302, DESK: 200, PRAC: 200, ADMIN: 200}),
    ("appointment-move-preview:other", "get", None, {ANON: 302, DESK: 200, PRAC: 403, ADMIN: 200}),
    ("appointment-undo", "post", {}, {ANON: 302, DESK: 302, PRAC: 302, ADMIN: 302}),  # no token: refused, back
    ("appointment-undo", "get", None, {ANON: 302, DESK: 405, PRAC: 405, ADMIN: 405}),
    ("appointment-telehealth-add:other", "post", {}, {ANON: 302, DESK: 200, PRAC: 403, ADMIN: 200}),
    ("appointment-telehealth-remove:other", "post", {}, {ANON: 302, DESK: 200, PRAC: 403, ADMIN: 200}),
    ("appointment-zoom:other", "get", None, {ANON: 302, DESK: 404, PRAC: 404, ADMIN: 404}),
    ("appointment-zoom-start:other", "get", None, {ANON: 302, DESK: 404, PRAC: 404, ADMIN: 404}),
    # Not telehealth: the refusal is shown on the panel (200); a colleague's appointment is not the practitioner's.
    ("appointment-zoom-restore:other", "post", {}, {ANON: 302, DESK: 200, PRAC: 403, ADMIN: 200}),
    ("diary-zoom-live", "get", None, {ANON: 302, DESK: 400, PRAC: 400, ADMIN: 400}),  # no dates given
    ("zoom-connections", "get", None, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("zoom-connection", "get", None, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("zoom-connection-test", "post", {}, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 302}),
    ("telehealth-send:other", "post", {}, {ANON: 302, DESK: 302, PRAC: 403, ADMIN: 302}),
    ("reminders", "get", None, {ANON: 302, DESK: 200, PRAC: 403, ADMIN: 200}),
    ("reminders", "post", {}, {ANON: 302, DESK: 200, PRAC: 403, ADMIN: 200}),
    ("messages", "get", None, {ANON: 302, DESK: 200, PRAC: 403, ADMIN: 200}),
    ("credits", "get", None, {ANON: 302, DESK: 200, PRAC: 403, ADMIN: 200}),
    ("reminder-settings", "get", None, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("reminder-settings", "post", {}, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("message-action:other", "post", {}, {ANON: 302, DESK: 404, PRAC: 403, ADMIN: 404}),
    ("scheduled-reminder-action:other", "post", {}, {ANON: 302, DESK: 404, PRAC: 403, ADMIN: 404}),
    ("needs-attention", "get", None, {ANON: 302, DESK: 200, PRAC: 403, ADMIN: 200}),
    ("attention-meeting", "post", {}, {ANON: 302, DESK: 404, PRAC: 403, ADMIN: 404}),
    ("attention-message", "post", {}, {ANON: 302, DESK: 404, PRAC: 403, ADMIN: 404}),
    ("attention-reminder", "post", {}, {ANON: 302, DESK: 404, PRAC: 403, ADMIN: 404}),
    ("attention-sweep", "post", {}, {ANON: 302, DESK: 404, PRAC: 403, ADMIN: 404}),
    ("attention-appointment", "post", {}, {ANON: 302, DESK: 404, PRAC: 403, ADMIN: 404}),
    ("appointment-confirm:own", "post", {}, {ANON: 302, DESK: 302, PRAC: 302, ADMIN: 302}),
    ("appointment-confirm:other", "post", {}, {ANON: 302, DESK: 302, PRAC: 403, ADMIN: 302}),
    # The client's page: no login, the code is the key (tests/clientpage has the valid-code cases).
    ("client-page", "get", None, {ANON: 404, DESK: 404, PRAC: 404, ADMIN: 404}),
    ("client-page", "post", {}, {ANON: 405, DESK: 405, PRAC: 405, ADMIN: 405}),
    ("client-page-join", "get", None, {ANON: 404, DESK: 404, PRAC: 404, ADMIN: 404}),
    ("client-page-confirm", "post", {}, {ANON: 404, DESK: 404, PRAC: 404, ADMIN: 404}),
    ("client-page-confirm", "get", None, {ANON: 405, DESK: 405, PRAC: 405, ADMIN: 405}),
    ("client-page-cancel", "get", None, {ANON: 404, DESK: 404, PRAC: 404, ADMIN: 404}),
    ("client-page-cancel", "post", {}, {ANON: 404, DESK: 404, PRAC: 404, ADMIN: 404}),
    ("client-page-calendar", "get", None, {ANON: 404, DESK: 404, PRAC: 404, ADMIN: 404}),
    ("credits", "post", {}, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("reminder-templates", "get", None, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("reminder-template-preview", "post", {}, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("twilio-status", "post", {}, {ANON: 403, DESK: 403, PRAC: 403, ADMIN: 403}),
    ("twilio-inbound", "post", {}, {ANON: 403, DESK: 403, PRAC: 403, ADMIN: 403}),  # unsigned
    ("inbox", "get", None, {ANON: 302, DESK: 200, PRAC: 403, ADMIN: 200}),
    ("inbox-message", "get", None, {ANON: 302, DESK: 404, PRAC: 403, ADMIN: 404}),  # no such message
    ("inbox-message", "post", {}, {ANON: 302, DESK: 404, PRAC: 403, ADMIN: 404}),
    ("inbox-handled", "post", {}, {ANON: 302, DESK: 404, PRAC: 403, ADMIN: 404}),
    ("inbox-reply-preview", "post", {"body": "Hi"}, {ANON: 302, DESK: 200, PRAC: 403, ADMIN: 200}),
    ("attention-sms", "post", {}, {ANON: 302, DESK: 404, PRAC: 403, ADMIN: 404}),
    ("dev-sms-reply", "get", None, {ANON: 302, DESK: 404, PRAC: 404, ADMIN: 404}),  # not development
    ("zoom-webhook", "post", {}, {ANON: 403, DESK: 403, PRAC: 403, ADMIN: 403}),  # no secret token configured
    ("client-list", "get", None, {ANON: 302, DESK: 200, PRAC: 200, ADMIN: 200}),
    ("client-list", "post", {"q": "cas"}, {ANON: 302, DESK: 200, PRAC: 200, ADMIN: 200}),
    ("client-search", "post", {"client_query": "cas"}, {ANON: 302, DESK: 200, PRAC: 200, ADMIN: 200}),
    ("client-search", "get", None, {ANON: 302, DESK: 405, PRAC: 405, ADMIN: 405}),  # never in a URL
    ("client-quick-search", "post", {"q": "cas"}, {ANON: 302, DESK: 200, PRAC: 200, ADMIN: 200}),
    ("client-quick-search", "get", None, {ANON: 302, DESK: 405, PRAC: 405, ADMIN: 405}),  # never in a URL
    ("client-duplicates", "post", {"new_last_name": "Client"}, {ANON: 302, DESK: 200, PRAC: 200, ADMIN: 200}),
    ("client-duplicates", "get", None, {ANON: 302, DESK: 405, PRAC: 405, ADMIN: 405}),
    ("client-detail", "get", None, {ANON: 302, DESK: 200, PRAC: 200, ADMIN: 200}),
    ("client-new", "get", None, {ANON: 302, DESK: 200, PRAC: 403, ADMIN: 200}),
    ("client-new", "post", {}, {ANON: 302, DESK: 200, PRAC: 403, ADMIN: 200}),
    ("client-edit", "get", None, {ANON: 302, DESK: 200, PRAC: 403, ADMIN: 200}),
    ("client-edit", "post", {}, {ANON: 302, DESK: 200, PRAC: 403, ADMIN: 200}),
    ("options", "get", None, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-setup", "get", None, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("zoom-practice-app", "get", None, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 302}),  # GET: back to the list
    ("zoom-practice-app", "post", {}, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),  # empty POST: form errors
    ("options-appointment-types", "get", None, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-appointment-type-new", "get", None, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-appointment-type-new", "post", {}, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-appointment-type-edit", "get", None, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-appointment-type-edit", "post", {}, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-practice", "get", None, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-practice", "post", {}, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-locations", "get", None, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-location-new", "get", None, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-location-new", "post", {}, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-location-edit", "get", None, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-location-edit", "post", {}, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-location-active", "post", {}, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 302}),
    ("options-practitioners", "get", None, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-practitioner-new", "get", None, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-practitioner-new", "post", {}, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-practitioner-edit", "get", None, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-practitioner-edit", "post", {}, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-practitioner-hours", "get", None, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-practitioner-hours", "post", {}, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-users", "get", None, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-user-new", "get", None, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-user-new", "post", {}, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-user-edit", "get", None, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-user-edit", "post", {}, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-user-password", "get", None, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-user-password", "post", {}, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-user-active", "post", {}, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 302}),  # nothing changes
    ("options-audit", "get", None, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("calendar-feed", "get", None, {ANON: 404, DESK: 404, PRAC: 404, ADMIN: 404}),
    ("my-calendar-feed", "get", None, {ANON: 302, DESK: 403, PRAC: 200, ADMIN: 403}),  # admin: no diary of their own
    ("my-calendar-feed", "post", {}, {ANON: 302, DESK: 403, PRAC: 302, ADMIN: 403}),
    ("options-calendar-feeds", "get", None, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 200}),
    ("options-calendar-feed-off", "post", {}, {ANON: 302, DESK: 403, PRAC: 403, ADMIN: 302}),
    ("options-calendar-feed-off", "get", None, {ANON: 302, DESK: 405, PRAC: 405, ADMIN: 405}),
    ("home", "get", None, {ANON: 302, DESK: 302, PRAC: 302, ADMIN: 302}),
    ("health", "get", None, {ANON: 200, DESK: 200, PRAC: 200, ADMIN: 200}),
    ("login", "get", None, {ANON: 200, DESK: 302, PRAC: 302, ADMIN: 302}),
]
CASES = [
    pytest.param(name, method, data, role, status, id=f"{role}-{method}-{name}")
    for name, method, data, expected in TABLE
    for role, status in expected.items()
]


@pytest.mark.parametrize(("name", "method", "data", "role", "status"), CASES)
def test_role_url_method_status(client, world, name, method, data, role, status):
    if role != ANON:
        client.force_login(world["users"][role])
    url = _url(world, name)
    response = getattr(client, method)(url, data) if data is not None else getattr(client, method)(url)
    assert response.status_code == status
    if role == ANON and status == 302:
        assert response.url.startswith(reverse("login"))


def test_every_url_is_in_the_table():
    from django.urls import get_resolver

    covered = {name.partition(":")[0] for name, *_ in TABLE} | {"logout"}  # logout: see the CSRF test
    names = {
        pattern.name
        for entry in get_resolver().url_patterns
        for pattern in getattr(entry, "url_patterns", [entry])
        if getattr(pattern, "name", None) and getattr(entry, "app_name", None) != "admin"
    }
    assert names - covered == set()


def test_a_practitioner_cannot_book_into_a_colleagues_diary(client, world, practitioner_b, location,
                                                            appointment_type):
    client.force_login(world["users"][PRAC])
    before = Appointment.objects.count()
    response = client.post(reverse("appointment-new"), {
        "client": world["client"].pk, "practitioner": practitioner_b.pk, "date": "2030-03-05",
        "start_time": "10:00", "appointment_type": appointment_type.pk, "location": location.pk,
    })
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert Appointment.objects.count() == before


def test_a_practitioner_sees_a_colleagues_appointment_read_only(client, world):
    client.force_login(world["users"][PRAC])
    html = client.get(reverse("appointment-detail", args=[world["other"].pk])).content.decode()
    assert "only Bob Brown or the front desk can change it" in html
    assert "Move or change time" not in html
    assert client.get(reverse("appointment-move", args=[world["other"].pk])).status_code == 403
    html = client.get(reverse("appointment-detail", args=[world["own"].pk])).content.decode()
    assert "Move or change time" in html
    assert "Save move" in client.get(reverse("appointment-move", args=[world["own"].pk])).content.decode()


POSTS = [
    ("appointment-new", None), ("appointment-status", "own"), ("appointment-move", "own"),
    ("appointment-cancel", "own"), ("appointment-reinstate", "own"), ("client-new", None), ("client-edit", None),
    ("appointment-telehealth-add", "own"), ("appointment-telehealth-remove", "own"), ("reminders", None),
    ("credits", None), ("reminder-templates", None), ("appointment-undo", None),
    ("appointment-confirm", "own"), ("logout", None),
]


@pytest.mark.parametrize(("name", "which"), POSTS)
def test_posts_without_a_csrf_token_are_refused(world, name, which):
    browser = HttpClient(enforce_csrf_checks=True)
    browser.force_login(world["users"][ADMIN])
    if which:
        url = reverse(name, args=[world[which].pk])
    elif name == "client-edit":
        url = reverse(name, args=[world["client"].pk])
    else:
        url = reverse(name)
    assert browser.post(url, {"status": "arrived"}).status_code == 403


def test_a_csrf_token_lets_the_same_post_through(world):
    browser = HttpClient(enforce_csrf_checks=True)
    browser.force_login(world["users"][DESK])
    browser.get(reverse("diary"))
    token = browser.cookies["csrftoken"].value
    response = browser.post(reverse("appointment-status", args=[world["own"].pk]),
                            {"status": "arrived", "csrfmiddlewaretoken": token})
    assert response.status_code == 302


def test_a_refusal_in_the_panel_is_a_panel_not_a_page(client, world):
    client.force_login(world["users"][PRAC])
    response = client.post(reverse("appointment-status", args=[world["other"].pk]), {"status": "arrived"},
                           headers={"HX-Request": "true", "HX-Target": "panel"})
    html = response.content.decode()
    assert response.status_code == 403
    assert "or the front desk can change it." in html
    assert "<html" not in html
    full = client.post(reverse("appointment-status", args=[world["other"].pk]), {"status": "arrived"})
    assert full.status_code == 403 and "<html" in full.content.decode()


def test_a_signed_in_account_without_a_role_reaches_nothing(client, world, db):
    from django.contrib.auth.models import User

    nobody = User.objects.create_user("nobody", password="x" * 12)
    client.force_login(nobody)
    for url in (reverse("diary"), reverse("client-list"), reverse("client-detail", args=[world["client"].pk]),
                reverse("client-search") + "?client_query=cas", reverse("appointment-detail", args=[world["own"].pk])):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "no role yet" in response.content.decode()
    assert client.get(reverse("health")).status_code == 200
    assert client.post(reverse("logout")).status_code == 302


@pytest.mark.parametrize("url", ["/diary/?date=9999-12-31", "/diary/?date=0001-01-01", "/diary/week/?date=9999-12-31",
                                 "/reminders/?day=9999-12-31", "/messages/?day=9999-12-31"])
def test_absurd_dates_fall_back_instead_of_failing(client, world, url):
    client.force_login(world["users"][DESK])
    assert client.get(url).status_code == 200


def test_a_booking_in_year_9999_is_a_form_error(client, world, practitioner_a, location, appointment_type):
    client.force_login(world["users"][DESK])
    response = client.post(reverse("appointment-new"), {
        "client": world["client"].pk, "practitioner": practitioner_a.pk, "date": "9999-12-31",
        "start_time": "10:00", "appointment_type": appointment_type.pk, "location": location.pk})
    assert response.status_code == 200 and "Enter a date between 1900 and 2100." in response.content.decode()


def test_roles_are_read_with_the_user_and_a_role_taken_away_counts_at_the_next_request(client, world, db):
    """practice.roles.RolesBackend reads the roles in the user's own query, afresh on every request."""
    from django.contrib.auth.models import Group, User

    desk = User.objects.create_user("desk2", password="x" * 12)
    desk.groups.add(Group.objects.get(name=roles.FRONT_DESK))
    client.force_login(desk)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("client-list")).status_code == 200
    assert not any('"auth_user_groups"."user_id" =' in q["sql"] for q in queries.captured_queries)
    desk.groups.clear()
    response = client.get(reverse("client-list"))
    assert response.status_code == 403 and "no role yet" in response.content.decode()
