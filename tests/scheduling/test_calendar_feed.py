"""Issue 11 item 3: the practitioner's calendar feed — a PyJWT-signed, revocable subscription link."""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import time_machine
from django.core.checks import run_checks
from django.urls import reverse
from icalendar import Calendar

from practice.errors import ApplicationError
from practice.models import AuditEvent, Client
from scheduling import feeds
from scheduling.models import Appointment, CalendarFeed
from scheduling.services import appointment_cancel, appointment_move
from tests.conftest import sydney

NOW = datetime(2030, 3, 1, 0, 0, tzinfo=UTC)  # Friday 1 March 2030, 11:00 in Sydney
NEW_KEY = "2030b:" + "n" * 40
OLD_KEY = "2030a:" + "o" * 40


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def feed_keys(settings):
    settings.CALENDAR_FEED_KEYS = [NEW_KEY, OLD_KEY]
    return settings


@pytest.fixture
def kelly(db) -> Client:
    return Client.objects.create(first_name="Casey", last_name="Kelly", mobile="+61412345678", email="ck@example.com",
                                 notes="Knee: private clinical note")


@pytest.fixture
def feed_on(practitioner_a) -> CalendarFeed:
    return feeds.calendar_feed_enable(actor=practitioner_a.user, practitioner=practitioner_a)


def _url(feed: CalendarFeed) -> str:
    return reverse("calendar-feed", args=[feeds.feed_token(feed)])


def _fetch(client, feed_or_url) -> tuple[int, Calendar | None]:
    url = feed_or_url if isinstance(feed_or_url, str) else _url(feed_or_url)
    response = client.get(url)
    if response.status_code != 200:
        return response.status_code, None
    return 200, Calendar.from_ical(response.content)


def _events(calendar: Calendar) -> list:
    return list(calendar.walk("VEVENT"))


def _sign(claims: dict, secret: str, kid: str) -> str:
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _hand_signed(header: dict, claims: dict, secret: str) -> str:
    """A correctly signed token that PyJWT itself would refuse to make (e.g. a key id that is not a string)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


# Tokens and keys ---------------------------------------------------------------------------------------------------

def test_it_signs_the_token_with_hs256_and_names_the_signing_key(feed_on, practitioner_a):
    token = feeds.feed_token(feed_on)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256" and header["kid"] == "2030b"
    claims = jwt.decode(token, "n" * 40, algorithms=["HS256"], audience="calendar-feed")
    assert claims == {"sub": str(practitioner_a.pk), "ver": feed_on.version, "aud": "calendar-feed"}
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "o" * 40, algorithms=["HS256"], audience="calendar-feed")


def test_a_link_signed_with_the_old_key_works_while_the_key_is_listed(client, settings, feed_on):
    settings.CALENDAR_FEED_KEYS = [OLD_KEY]
    old_link = _url(feed_on)
    settings.CALENDAR_FEED_KEYS = [NEW_KEY, OLD_KEY]  # rotated: the new key signs, the old one still verifies
    assert _url(feed_on) != old_link
    assert _fetch(client, old_link)[0] == 200
    assert _fetch(client, _url(feed_on))[0] == 200
    settings.CALENDAR_FEED_KEYS = [NEW_KEY]  # the old key is dropped: its links die
    assert _fetch(client, old_link)[0] == 404


def test_an_unknown_key_id_or_a_wrong_secret_is_404(client, feed_on, practitioner_a):
    claims = {"sub": str(practitioner_a.pk), "ver": feed_on.version, "aud": "calendar-feed"}
    for token in (_sign(claims, "x" * 40, "stranger"), _sign(claims, "x" * 40, "2030b"),
                  _hand_signed({"alg": "HS256", "kid": ["2030b"]}, claims, "n" * 40),
                  jwt.encode(claims, "n" * 40, algorithm="HS256")):  # no key id at all
        assert client.get(reverse("calendar-feed", args=[token])).status_code == 404


def test_a_tampered_token_is_404(client, feed_on, practitioner_a, practitioner_b):
    feeds.calendar_feed_enable(actor=practitioner_b.user, practitioner=practitioner_b)
    header, payload, signature = feeds.feed_token(feed_on).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = str(practitioner_b.pk)  # someone else's diary, with Alice's signature
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    assert client.get(reverse("calendar-feed", args=[f"{header}.{forged}.{signature}"])).status_code == 404
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BA")
    assert client.get(reverse("calendar-feed", args=[f"{header}.{payload}.{flipped}"])).status_code == 404


@pytest.mark.parametrize("token", [
    "x", "a.b.c", "....", "e30.e30.", "W10.e30.x",
    # alg "none", no signature
    base64.urlsafe_b64encode(b'{"alg":"none","kid":"2030b"}').decode().rstrip("=") + ".e30.",
])
def test_garbage_is_a_plain_404_never_a_500(client, feed_on, token):
    response = client.get(reverse("calendar-feed", args=[token]))
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/plain")


def test_claims_of_the_wrong_shape_are_404_even_when_signed(client, feed_on, practitioner_a):
    for claims in ({"sub": practitioner_a.pk, "ver": 1, "aud": "calendar-feed"},
                   {"sub": "1e3", "ver": 1, "aud": "calendar-feed"},
                   {"sub": str(practitioner_a.pk), "ver": "1", "aud": "calendar-feed"},
                   {"sub": str(practitioner_a.pk), "ver": 1, "aud": "something-else"},
                   {"sub": str(practitioner_a.pk), "ver": 1}):
        token = _sign(claims, "n" * 40, "2030b")
        assert client.get(reverse("calendar-feed", args=[token])).status_code == 404, claims


def test_reset_raises_the_version_and_kills_the_old_link(client, feed_on, practitioner_a):
    old_link = _url(feed_on)
    feed = feeds.calendar_feed_reset(actor=practitioner_a.user, practitioner=practitioner_a)
    assert feed.version == feed_on.version + 1
    assert _fetch(client, old_link)[0] == 404
    assert _fetch(client, _url(feed))[0] == 200
    event = AuditEvent.objects.filter(action="calendar_feed.reset").get()
    assert event.changes == {"version": [1, 2]} and event.actor == practitioner_a.user


def test_a_feed_turned_off_is_404_and_turning_it_on_again_makes_a_new_link(client, feed_on, practitioner_a):
    old_link = _url(feed_on)
    feeds.calendar_feed_disable(actor=practitioner_a.user, practitioner=practitioner_a)
    assert _fetch(client, old_link)[0] == 404
    feed = feeds.calendar_feed_enable(actor=practitioner_a.user, practitioner=practitioner_a)
    assert _fetch(client, old_link)[0] == 404  # a link that leaked stays dead
    assert _fetch(client, _url(feed))[0] == 200
    assert list(AuditEvent.objects.filter(object_type="calendarfeed").order_by("pk")
                .values_list("action", flat=True)) == [
        "calendar_feed.enabled", "calendar_feed.disabled", "calendar_feed.enabled"]


def test_a_practitioner_who_left_has_no_feed(client, feed_on, practitioner_a):
    practitioner_a.is_active = False
    practitioner_a.save()
    assert _fetch(client, feed_on)[0] == 404
    practitioner_a.is_active = True
    practitioner_a.save()
    practitioner_a.user.is_active = False
    practitioner_a.user.save()
    assert _fetch(client, feed_on)[0] == 404


def test_a_feed_never_turned_on_is_404(client, practitioner_a):
    assert _fetch(client, CalendarFeed(practitioner=practitioner_a))[0] == 404


# The calendar --------------------------------------------------------------------------------------------------------

def test_it_names_clients_by_initials_only_unless_full_names_are_chosen(client, feed_on, practitioner_a, book, kelly):
    appointment = book(practitioner_a, sydney(2030, 3, 4, 10), client=kelly)
    Appointment.objects.filter(pk=appointment.pk).update(notes="Bring the MRI")
    response = client.get(_url(feed_on))
    body = response.content.decode()
    [event] = _events(Calendar.from_ical(response.content))
    assert str(event["SUMMARY"]) == "Standard — C.K."
    for private in ("Kelly", "Casey", "0412", "+61412345678", "ck@example.com", "Knee", "MRI", "zoom"):
        assert private not in body, private

    feeds.calendar_feed_set_full_names(actor=practitioner_a.user, practitioner=practitioner_a, show_full_names=True)
    [event] = _events(_fetch(client, feed_on)[1])
    assert str(event["SUMMARY"]) == "Standard — Casey Kelly"


def test_it_is_a_calendar_a_subscriber_understands(client, feed_on, practitioner_a, book, location):
    appointment = book(practitioner_a, sydney(2030, 3, 4, 10), minutes=45)
    response = client.get(_url(feed_on))
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert "private" in response["Cache-Control"] and "public" not in response["Cache-Control"]
    calendar = Calendar.from_ical(response.content)
    assert str(calendar["X-WR-CALNAME"]) == "Alice Allen — Test Practice"
    body = response.content.decode()
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT15M" in body and "X-PUBLISHED-TTL:PT15M" in body
    [event] = _events(calendar)
    assert str(event["UID"]) == appointment.calendar_uid
    assert event.decoded("DTSTART") == datetime(2030, 3, 3, 23, 0, tzinfo=UTC)  # 10:00 in Sydney (AEDT)
    assert event.decoded("DTEND") == datetime(2030, 3, 3, 23, 45, tzinfo=UTC)
    assert "DTSTART:20300303T230000Z" in body
    assert str(event["LOCATION"]) == "Clinic, 1 Main St"


def test_a_head_request_is_answered_too(client, feed_on):
    assert client.head(_url(feed_on)).status_code == 200


def test_the_window_is_12_weeks_back_and_26_ahead(client, feed_on, practitioner_a, location, appointment_type,
                                                  client_record):
    def at(moment):
        return Appointment.objects.create(client=client_record, practitioner=practitioner_a, location=location,
                                          appointment_type=appointment_type, starts_at=moment,
                                          ends_at=moment + timedelta(minutes=30))

    inside = [at(NOW - timedelta(weeks=12) + timedelta(minutes=1)), at(NOW + timedelta(weeks=26) - timedelta(hours=1))]
    at(NOW - timedelta(weeks=12) - timedelta(hours=1))
    at(NOW + timedelta(weeks=26) + timedelta(minutes=1))
    uids = [str(event["UID"]) for event in _events(_fetch(client, feed_on)[1])]
    assert uids == [appointment.calendar_uid for appointment in inside]


def test_only_the_practitioners_own_appointments_not_cancelled(client, feed_on, practitioner_a, practitioner_b, book,
                                                               front_desk):
    own = book(practitioner_a, sydney(2030, 3, 4, 10))
    cancelled = book(practitioner_a, sydney(2030, 3, 4, 11))
    appointment_cancel(actor=front_desk, appointment=cancelled)
    book(practitioner_b, sydney(2030, 3, 4, 10))
    uids = [str(event["UID"]) for event in _events(_fetch(client, feed_on)[1])]
    assert uids == [own.calendar_uid]


def test_a_move_keeps_the_uid_and_raises_the_sequence(client, feed_on, practitioner_a, book, front_desk, location):
    appointment = book(practitioner_a, sydney(2030, 3, 4, 10))
    [before] = _events(_fetch(client, feed_on)[1])
    appointment_move(actor=front_desk, appointment=appointment, starts_at=sydney(2030, 3, 5, 14),
                     ends_at=sydney(2030, 3, 5, 14, 30), practitioner=practitioner_a, location=location)
    [after] = _events(_fetch(client, feed_on)[1])
    assert str(after["UID"]) == str(before["UID"]) == appointment.calendar_uid
    assert int(after["SEQUENCE"]) == int(before["SEQUENCE"]) + 1
    assert after.decoded("DTSTART") == datetime(2030, 3, 5, 3, 0, tzinfo=UTC)


def test_telehealth_is_shown_as_telehealth_without_a_link(client, feed_on, practitioner_a, book, telehealth_location,
                                                          location):
    at_telehealth_location = book(practitioner_a, sydney(2030, 3, 4, 10))
    Appointment.objects.filter(pk=at_telehealth_location.pk).update(location=telehealth_location)
    ticked = book(practitioner_a, sydney(2030, 3, 4, 11))
    Appointment.objects.filter(pk=ticked.pk).update(is_telehealth=True)
    response = client.get(_url(feed_on))
    assert [str(event["LOCATION"]) for event in _events(Calendar.from_ical(response.content))] == [
        "Telehealth", "Telehealth"]
    assert b"zoom" not in response.content.lower() and b"http" not in response.content.lower()


def test_the_feed_costs_the_same_queries_for_one_appointment_or_many(client, feed_on, practitioner_a, book,
                                                                     django_assert_num_queries):
    book(practitioner_a, sydney(2030, 3, 4, 9))
    url = _url(feed_on)
    with django_assert_num_queries(2):  # the feed (with the practice's name), the appointments
        assert client.get(url).status_code == 200
    for day in range(5, 15):
        book(practitioner_a, sydney(2030, 3, day, 10))
    with django_assert_num_queries(2):
        response = client.get(url)
    assert len(_events(Calendar.from_ical(response.content))) == 11


def test_client_initials_use_the_preferred_name_and_survive_odd_names():
    assert feeds.client_initials(Client(first_name="Elizabeth", preferred_name="Liz", last_name="Ng")) == "L.N."
    assert feeds.client_initials(Client(first_name="ñandú", last_name=" ølsen")) == "Ñ.Ø."
    assert feeds.client_initials(Client(first_name="Cher", last_name="")) == "C."


# Who may change a feed ---------------------------------------------------------------------------------------------

def test_another_practitioner_cannot_manage_someone_elses_feed(feed_on, practitioner_a, practitioner_b):
    bob = practitioner_b.user
    for service in (feeds.calendar_feed_enable, feeds.calendar_feed_reset, feeds.calendar_feed_disable):
        with pytest.raises(ApplicationError) as caught:
            service(actor=bob, practitioner=practitioner_a)
        assert caught.value.code == "forbidden"
    with pytest.raises(ApplicationError):
        feeds.calendar_feed_set_full_names(actor=bob, practitioner=practitioner_a, show_full_names=True)
    feed_on.refresh_from_db()
    assert feed_on.is_enabled and feed_on.version == 1 and not feed_on.show_full_names


def test_an_admin_may_turn_a_feed_off_but_not_on(feed_on, practitioner_a, admin_user):
    with pytest.raises(ApplicationError):
        feeds.calendar_feed_reset(actor=admin_user, practitioner=practitioner_a)
    feed = feeds.calendar_feed_disable(actor=admin_user, practitioner=practitioner_a)
    assert not feed.is_enabled
    with pytest.raises(ApplicationError):
        feeds.calendar_feed_enable(actor=admin_user, practitioner=practitioner_a)


def test_the_feed_page_manages_only_the_signed_in_practitioners_own_feed(client, practitioner_a, practitioner_b):
    client.force_login(practitioner_b.user)
    html = client.get(reverse("my-calendar-feed")).content.decode()
    assert "Your calendar feed is off" in html and "Bob Brown" in html
    response = client.post(reverse("my-calendar-feed"), {"action": "on"})
    assert response.status_code == 302
    assert CalendarFeed.objects.get(practitioner=practitioner_b).is_enabled
    assert not CalendarFeed.objects.filter(practitioner=practitioner_a).exists()
    html = client.get(reverse("my-calendar-feed")).content.decode()
    feed = CalendarFeed.objects.get(practitioner=practitioner_b)
    assert f"http://testserver{_url(feed)}" in html and 'data-copy="http://testserver/feeds/' in html
    assert "webcal://testserver/feeds/" in html

    client.post(reverse("my-calendar-feed"), {"action": "names", "show_full_names": "on"})
    assert CalendarFeed.objects.get(practitioner=practitioner_b).show_full_names
    client.post(reverse("my-calendar-feed"), {"action": "reset"})
    assert CalendarFeed.objects.get(practitioner=practitioner_b).version == 2
    client.post(reverse("my-calendar-feed"), {"action": "off"})
    assert not CalendarFeed.objects.get(practitioner=practitioner_b).is_enabled
    response = client.post(reverse("my-calendar-feed"), {"action": "reset"}, follow=True)
    assert "Turn the calendar feed on first." in response.content.decode()


def test_the_page_gives_the_public_address_when_the_server_knows_it(client, settings, feed_on, practitioner_a):
    settings.PUBLIC_BASE_URL = "https://diary.example.com"
    client.force_login(practitioner_a.user)
    html = client.get(reverse("my-calendar-feed")).content.decode()
    assert f'value="https://diary.example.com{_url(feed_on)}"' in html
    assert f'href="webcal://diary.example.com{_url(feed_on)}"' in html


def test_the_top_bar_links_a_practitioner_to_their_feed(client, practitioner_a, front_desk):
    client.force_login(practitioner_a.user)
    assert "My calendar feed" in client.get(reverse("client-list")).content.decode()
    client.force_login(front_desk)
    assert "My calendar feed" not in client.get(reverse("client-list")).content.decode()
    assert client.get(reverse("my-calendar-feed")).status_code == 403


def test_options_lists_every_feed_without_its_link_and_an_admin_turns_one_off(client, admin_user, feed_on,
                                                                              practitioner_a, practitioner_b,
                                                                              django_assert_max_num_queries):
    client.force_login(admin_user)
    with django_assert_max_num_queries(12):
        html = client.get(reverse("options-calendar-feeds")).content.decode()
    assert "Alice Allen" in html and "Bob Brown" in html and "Never turned on" in html
    assert "/feeds/" not in html
    link = _url(feed_on)
    response = client.post(reverse("options-calendar-feed-off", args=[practitioner_a.pk]), follow=True)
    assert "is off; its link no longer works" in response.content.decode()
    assert client.get(link).status_code == 404
    assert AuditEvent.objects.filter(action="calendar_feed.disabled", actor=admin_user).exists()


def test_the_feed_is_public_also_in_a_browser_signed_in_without_a_role(client, feed_on, db):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_user("nobody", password="x" * 12))
    assert client.get(_url(feed_on)).status_code == 200


# Configuration -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("keys", [["nocolon"], [":" + "s" * 40], ["a:short"], ["a:" + "s" * 40, "a:" + "t" * 40], []])
def test_a_malformed_key_setting_is_a_startup_error(settings, keys):
    settings.CALENDAR_FEED_KEYS = keys
    assert [m.id for m in run_checks() if m.id.startswith("scheduling.")] == ["scheduling.E001"]


def test_the_development_key_is_refused_by_the_deploy_check(settings):
    settings.CALENDAR_FEED_KEYS = [settings.DEV_CALENDAR_FEED_KEY]
    assert "scheduling.W001" in [m.id for m in run_checks(include_deployment_checks=True)]
    settings.CALENDAR_FEED_KEYS = [NEW_KEY]
    assert "scheduling.W001" not in [m.id for m in run_checks(include_deployment_checks=True)]
