"""What people see and do after Zoom's webhooks (issue 12): the badge, the panel, Re-create, Restore, Needs attention,
and the webhook secret token on Options → Zoom."""

import json
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import responses
from django.urls import reverse
from django.utils import timezone

from practice.errors import ApplicationError
from practice.models import AuditEvent
from scheduling import diary_html
from telehealth import crypto, services
from telehealth.models import (
    ConnectionStatus,
    LiveState,
    MeetingState,
    PracticeZoomApp,
    ZoomConnection,
    ZoomDailyUsage,
    ZoomMeeting,
)
from telehealth.services import DAILY_LIMIT
from tests.conftest import SYDNEY
from tests.telehealth.test_webhooks import SECRET, envelope, now_ms
from tests.telehealth.test_zoom_client import API, MEETING_ID, MEETING_URL, TOKEN_URL, USER, add_token, meeting_json
from tests.telehealth.test_zoom_contract import UPDATE, body_validator, errors, parameter_problems, spec  # noqa: F401
from tests.zoom_fixtures import zoom_meetings

PRACTICE_ZONE = ZoneInfo(SYDNEY)  # the test practice's zone (tests/conftest.py)


@pytest.fixture
def applied(django_capture_on_commit_callbacks, client):
    """Deliver an event signed with the secret and apply it as the worker would."""
    from tests.telehealth.test_webhooks import sign

    def _deliver(data):
        body = json.dumps(data).encode()
        with django_capture_on_commit_callbacks(execute=True):
            response = client.generic("POST", "/webhooks/zoom/", body, content_type="application/json", **sign(body))
        assert response.status_code == 200

    return _deliver


@pytest.fixture
def live(admin_user, alice_zoom, tele_book, practitioner_a):
    services.webhook_secret_set(actor=admin_user, secret=SECRET, connection=alice_zoom)
    return tele_book(practitioner_a, starts_at=timezone.now() + timedelta(hours=2))


def panel(client, user, appointment) -> str:
    client.force_login(user)
    return client.get(reverse("appointment-detail", args=[appointment.pk])).content.decode()


def diary_html_for(client, user, appointment) -> str:
    client.force_login(user)
    day = timezone.localtime(appointment.starts_at, PRACTICE_ZONE).date()  # the practice's day, not UTC's
    return client.get(reverse("diary") + f"?date={day.isoformat()}").content.decode()


# The diary badge ------------------------------------------------------------------------------------------------

def test_badge_shows_waiting_in_progress_ended_deleted_and_changed():
    from datetime import datetime

    active = {"is_telehealth": True, "state": MeetingState.ACTIVE, "error": ""}
    waiting = diary_html.zoom_badge(**active, waiting_since=datetime(2030, 1, 1, 10, 2), live_state="started")
    assert "Client waiting since 10:02" in waiting and "In progress" in waiting
    assert "Ended" in diary_html.zoom_badge(**active, live_state=LiveState.ENDED)
    assert "Changed in Zoom" in diary_html.zoom_badge(**active, changed_in_zoom=True)
    deleted = diary_html.zoom_badge(is_telehealth=True, state=MeetingState.DELETED, error="x", deleted_in_zoom=True)
    assert "Deleted in Zoom" in deleted and "No Zoom meeting" not in deleted
    assert diary_html.zoom_badge(**active) == '<span class="badge zoom">Zoom</span>'  # as before issue 12


def test_the_diary_shows_the_client_waiting_in_practice_time(live, applied, front_desk, client):
    ts = now_ms()
    applied(envelope("meeting.participant_joined_waiting_room", live.zoom_meeting, ts=ts, participant="p1"))
    # The event's time in Sydney (a minute may turn between the event and the check).
    shown = {f"Client waiting since {timezone.localtime(moment, PRACTICE_ZONE):%H:%M}"
             for moment in (datetime.fromtimestamp(ts / 1000, UTC), timezone.now())}
    page = diary_html_for(client, front_desk, live)
    assert any(text in page for text in shown)
    applied(envelope("meeting.participant_admitted", live.zoom_meeting, ts=ts + 1000, participant="p1"))
    assert "Client waiting" not in diary_html_for(client, front_desk, live)


def test_the_badge_poll_part_carries_the_live_state(live, applied, front_desk, client):
    applied(envelope("meeting.started", live.zoom_meeting, ts=now_ms()))
    client.force_login(front_desk)
    part = client.get(reverse("appointment-detail", args=[live.pk]) + "?part=zoom-badge").content.decode()
    assert "In progress" in part


# The panel ------------------------------------------------------------------------------------------------------

def test_panel_shows_waiting_and_polls_around_the_meetings_time(live, applied, practitioner_a, client):
    applied(envelope("meeting.participant_jbh_waiting", live.zoom_meeting, ts=now_ms(), participant="p1"))
    html = panel(client, practitioner_a.user, live)
    assert "Client waiting since" in html
    assert 'hx-trigger="every 10s"' in html  # the panel follows the webhooks while it is open


def test_deleted_in_zoom_shows_on_panel_with_recreate_and_recreate_works(live, applied, front_desk, client,
                                                                         django_capture_on_commit_callbacks, zoom):
    old = live.zoom_meeting
    applied(envelope("meeting.deleted", old, ts=now_ms()))
    html = panel(client, front_desk, live)
    assert "Deleted in Zoom" in html and ">Re-create</button>" in html
    assert "Deleted in Zoom" in diary_html_for(client, front_desk, live)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("appointment-telehealth-add", args=[live.pk]))
    assert response.status_code in (200, 302)
    live.refresh_from_db()
    assert live.zoom_meeting_id != old.pk and live.zoom_meeting.state == MeetingState.ACTIVE
    assert live.zoom_meeting.zoom_id in zoom_meetings(zoom)
    assert AuditEvent.objects.filter(action="appointment.telehealth_added", object_id=str(live.pk)).exists()


def test_changed_in_zoom_shows_what_changed_and_restore_puts_it_back(live, applied, front_desk, client, zoom):
    meeting = live.zoom_meeting
    applied(envelope("meeting.updated", meeting, ts=now_ms(), obj={"duration": 90,
                                                                    "settings": {"waiting_room": False}}))
    html = panel(client, front_desk, live)
    assert "Changed in Zoom" in html and "Length changed in Zoom to 90 minutes" in html and ">Restore</button>" in html
    with zoom.lock:  # what Zoom now has, as the practitioner changed it
        zoom.state.meetings[meeting.zoom_id]["duration"] = 90
        zoom.state.meetings[meeting.zoom_id]["settings"]["waiting_room"] = False
    response = client.post(reverse("appointment-zoom-restore", args=[live.pk]))
    assert response.status_code in (200, 302)
    restored = ZoomMeeting.objects.get(pk=meeting.pk)
    assert restored.changed_in_zoom_at is None and restored.zoom_change_texts == []
    assert zoom_meetings(zoom)[meeting.zoom_id]["duration"] == meeting.duration
    assert zoom_meetings(zoom)[meeting.zoom_id]["settings"]["waiting_room"] is True
    assert AuditEvent.objects.filter(action="zoom.meeting_restored", object_id=str(meeting.pk)).exists()
    # Zoom echoes the PATCH back as meeting.updated with our own values: nothing is flagged again.
    applied(envelope("meeting.updated", meeting, ts=now_ms(1), obj={"duration": meeting.duration,
                                                                     "settings": {"waiting_room": True}}))
    assert ZoomMeeting.objects.get(pk=meeting.pk).changed_in_zoom_at is None


def test_started_and_ended_show_on_the_panel(live, applied, front_desk, client):
    ts = now_ms()
    applied(envelope("meeting.started", live.zoom_meeting, ts=ts))
    assert "In progress" in panel(client, front_desk, live)
    applied(envelope("meeting.ended", live.zoom_meeting, ts=ts + 1000))
    assert ">Ended<" in panel(client, front_desk, live)


# Needs attention -----------------------------------------------------------------------------------------------

def test_needs_attention_lists_deleted_and_changed_meetings_with_their_actions(live, applied, front_desk, client,
                                                                               practitioner_a, tele_book):
    other = tele_book(practitioner_a, starts_at=timezone.now() + timedelta(hours=5))
    applied(envelope("meeting.deleted", live.zoom_meeting, ts=now_ms()))
    applied(envelope("meeting.updated", other.zoom_meeting, ts=now_ms(), obj={"duration": 50}))
    client.force_login(front_desk)
    html = client.get(reverse("needs-attention")).content.decode()
    assert "Zoom meeting deleted in Zoom" in html and "Re-create" in html
    assert "Zoom meeting changed in Zoom" in html and "Length changed in Zoom to 50 minutes" in html
    assert reverse("attention-meeting", args=[other.zoom_meeting.pk, "restore"]) in html


def test_recreate_from_needs_attention_takes_it_off_the_list(live, applied, front_desk, client,
                                                             django_capture_on_commit_callbacks):
    from attention.selectors import attention_count

    old = live.zoom_meeting
    # Counted from what is there before: at some hours of the day the appointment's reminders (due now, two hours
    # ahead) fall in the quiet hours and are listed too.
    before = attention_count()
    applied(envelope("meeting.deleted", old, ts=now_ms()))
    assert attention_count() == before + 1
    client.force_login(front_desk)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("attention-meeting", args=[old.pk, "try-again"]))
    live.refresh_from_db()
    assert live.zoom_meeting.state == MeetingState.ACTIVE
    assert attention_count() == before


def test_a_meeting_deleted_in_zoom_after_it_was_over_needs_nobody(live, applied, time_machine):
    from attention.selectors import attention_count

    meeting = live.zoom_meeting
    time_machine.move_to(meeting.starts_at + timedelta(hours=2))
    applied(envelope("meeting.deleted", meeting, ts=now_ms()))
    assert ZoomMeeting.objects.get(pk=meeting.pk).deleted_in_zoom_at is not None
    assert attention_count() == 0


# Restore against Zoom's schema ---------------------------------------------------------------------------------

@pytest.fixture
def changed_meeting(practitioner_a, admin_user, settings):
    settings.ZOOM_API_BASE_URL, settings.ZOOM_OAUTH_TOKEN_URL = API, TOKEN_URL
    ZoomConnection.objects.create(practitioner=practitioner_a, account_id="acct", client_id="cid",
                                  client_secret_encrypted=crypto.encrypt("sec"), zoom_user=USER,
                                  status=ConnectionStatus.CONNECTED)
    return ZoomMeeting.objects.create(
        practitioner=practitioner_a, state=MeetingState.ACTIVE, zoom_id=MEETING_ID, host_user=USER,
        topic="Telehealth appointment - Test Practice", starts_at=timezone.now() + timedelta(days=1), duration=30,
        timezone="Australia/Sydney", passcode="Ab3dE5gH9k", create_ref="0123abcd",
        zoom_changes={"duration": {"text": "Length changed in Zoom to 45 minutes (booked 30).", "ts": 5}},
        changed_in_zoom_at=timezone.now())


def test_restore_sends_one_patch_zoom_declares_and_reads_the_settings_back(spec, changed_meeting, admin_user):  # noqa: F811
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        add_token(mock)
        mock.patch(MEETING_URL, status=204)
        mock.get(MEETING_URL, json=meeting_json())
        services.meeting_restore(actor=admin_user, meeting=changed_meeting)
        patch = next(call.request for call in mock.calls if call.request.method == "PATCH")
    body = json.loads(patch.body)
    assert errors(body_validator(spec, UPDATE), body) == []
    assert parameter_problems(spec, UPDATE, patch.url) == []
    assert body["duration"] == 30 and body["password"] == "Ab3dE5gH9k" and body["settings"]["waiting_room"] is True
    restored = ZoomMeeting.objects.get(pk=changed_meeting.pk)
    assert restored.changed_in_zoom_at is None and restored.settings_warnings == []
    assert restored.zoom_changes["duration"]["ts"] >= int(time.time() * 1000) - 60_000  # older events stay ignored


def test_restore_when_zoom_refuses_says_why_and_keeps_the_flag(changed_meeting, admin_user):
    with responses.RequestsMock() as mock:
        add_token(mock)
        mock.patch(MEETING_URL, status=400, json={"code": 3000, "message": "Meeting has started."})
        with pytest.raises(ApplicationError, match="Zoom did not restore the meeting: Meeting has started"):
            services.meeting_restore(actor=admin_user, meeting=changed_meeting)
    assert ZoomMeeting.objects.get(pk=changed_meeting.pk).changed_in_zoom_at is not None
    assert AuditEvent.objects.filter(action="zoom.meeting_restore_failed").exists()


def test_restore_refused_for_zooms_daily_limit_holds_the_host_and_says_until_when(changed_meeting, admin_user):
    with responses.RequestsMock() as mock:
        add_token(mock)
        mock.patch(MEETING_URL, status=429, headers={"Retry-After": "60"},
                   json={"code": 429, "message": "You have reached the maximum daily rate limit for this API."})
        with pytest.raises(ApplicationError, match="daily limit for .* is used up.*Press Restore again then"):
            services.meeting_restore(actor=admin_user, meeting=changed_meeting)
    assert ZoomDailyUsage.objects.get(host_user=changed_meeting.host_user.lower()).count == DAILY_LIMIT
    assert ZoomConnection.objects.get(practitioner=changed_meeting.practitioner).daily_limit_until is not None
    assert ZoomMeeting.objects.get(pk=changed_meeting.pk).changed_in_zoom_at is not None


def test_restore_refuses_when_nothing_changed(changed_meeting, admin_user):
    ZoomMeeting.objects.filter(pk=changed_meeting.pk).update(changed_in_zoom_at=None)
    changed_meeting.refresh_from_db()
    with pytest.raises(ApplicationError, match="Nothing to restore"):
        services.meeting_restore(actor=admin_user, meeting=changed_meeting)


# Options → Zoom ----------------------------------------------------------------------------------------------

def test_the_practice_apps_secret_token_is_saved_encrypted_and_never_shown(admin_user, client, practice):
    services.practice_app_save(actor=admin_user, account_id="acct", client_id="cid", client_secret="sec")
    client.force_login(admin_user)
    client.post(reverse("zoom-practice-app"), {"account_id": "acct", "client_id": "cid",
                                               "webhook_secret": "tok-123-secret"})
    app = PracticeZoomApp.load()
    assert crypto.decrypt(app.webhook_secret_encrypted) == "tok-123-secret"
    assert "tok-123-secret" not in app.webhook_secret_encrypted
    page = client.get(reverse("zoom-connections")).content.decode()
    assert "tok-123-secret" not in page and "A secret token is stored" in page
    assert services.webhook_secrets() == {"practice": "tok-123-secret"}
    event = AuditEvent.objects.get(action="zoom.webhook_secret_changed")
    assert event.changes == {"webhook_secret": "changed"}


def test_a_connections_own_secret_token_is_set_on_its_page(admin_user, client, alice_zoom, practitioner_a):
    client.force_login(admin_user)
    client.post(reverse("zoom-connection", args=[practitioner_a.pk]),
                {"app": "own", "account_id": alice_zoom.account_id, "client_id": alice_zoom.client_id,
                 "zoom_user": alice_zoom.zoom_user, "webhook_secret": "own-token"})
    assert services.webhook_secrets() == {f"connection:{alice_zoom.pk}": "own-token"}
    page = client.get(reverse("zoom-connection", args=[practitioner_a.pk])).content.decode()
    assert "own-token" not in page


def test_a_secret_token_with_spaces_is_refused_on_the_form(admin_user, client, practice):
    services.practice_app_save(actor=admin_user, account_id="acct", client_id="cid", client_secret="sec")
    client.force_login(admin_user)
    response = client.post(reverse("zoom-practice-app"), {"account_id": "acct", "client_id": "cid",
                                                          "webhook_secret": "has space"})
    assert "characters Zoom secret tokens never have" in response.content.decode()
    assert PracticeZoomApp.load().webhook_secret_encrypted == ""


# The diary's live poll (issue 12 item 3) -----------------------------------------------------------------------

def _poll_url(html: str) -> str:
    import re
    from html import unescape

    match = re.search(r'id="zoom-live"[^>]*hx-get="([^"]+)"', html)
    assert match, "no live poll on the page"
    return unescape(match.group(1))


def test_todays_diary_polls_every_10s_and_other_days_do_not(live, front_desk, client):
    client.force_login(front_desk)
    today = timezone.localdate(timezone=PRACTICE_ZONE)
    html = client.get(reverse("diary") + f"?date={today.isoformat()}").content.decode()
    assert 'hx-trigger="every 10s"' in html and "X-Background-Poll" in html
    assert _poll_url(html).startswith(reverse("diary-zoom-live"))
    other = client.get(reverse("diary") + f"?date={(today + timedelta(days=2)).isoformat()}").content.decode()
    assert 'id="zoom-live"' not in other


def test_the_poll_sends_only_blocks_a_webhook_changed_then_moves_its_since(live, applied, front_desk, client,
                                                                           tele_book, practitioner_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    quiet = tele_book(practitioner_a, starts_at=timezone.now() + timedelta(hours=4))
    client.force_login(front_desk)
    day = timezone.localtime(live.starts_at, PRACTICE_ZONE).date().isoformat()  # today, unless near midnight
    url = reverse("diary-zoom-live") + f"?from={day}&to={day}&since={now_ms()}"
    with CaptureQueriesContext(connection) as nothing_changed:
        response = client.get(url, HTTP_X_BACKGROUND_POLL="1")
    assert 'id="zb' not in response.content.decode()
    time.sleep(0.01)
    applied(envelope("meeting.participant_joined_waiting_room", live.zoom_meeting, ts=now_ms(), participant="p1"))
    with CaptureQueriesContext(connection) as one_changed:
        answer = client.get(url, HTTP_X_BACKGROUND_POLL="1").content.decode()
    assert f'id="zb{live.pk}" hx-swap-oob="true"' in answer and "Client waiting since" in answer
    assert f'id="zb{quiet.pk}"' not in answer
    assert len(one_changed) == len(nothing_changed)  # one query for the changes, whatever their number
    next_url = _poll_url(answer)
    assert next_url != url
    later = client.get(next_url, HTTP_X_BACKGROUND_POLL="1").content.decode()
    # Sent again only within the few seconds' overlap kept against a commit racing the poll.
    assert later.count('hx-swap-oob="true"') <= 1


@pytest.mark.parametrize("query", ["", "?from=x&to=y&since=1", "?from=2030-01-01&to=2030-01-01&since=soon",
                                   "?from=2030-01-01&to=2030-02-01&since=1",
                                   "?from=2030-01-01&to=2030-01-01&since=99999999999999999999"])
def test_the_poll_answers_bad_input_with_400(front_desk, client, practice, query):
    client.force_login(front_desk)
    assert client.get(reverse("diary-zoom-live") + query).status_code == 400


def test_background_polls_do_not_keep_an_idle_session_alive(front_desk, client, practice, time_machine):
    from practice.middleware import IdleSessionMiddleware

    client.force_login(front_desk)
    client.get(reverse("diary"))
    stamped = client.session[IdleSessionMiddleware.KEY]
    time_machine.move_to(timezone.now() + timedelta(minutes=5))
    url = reverse("diary-zoom-live") + f"?from=2030-01-01&to=2030-01-01&since={now_ms()}"
    client.get(url, HTTP_X_BACKGROUND_POLL="1")
    assert client.session[IdleSessionMiddleware.KEY] == stamped
    client.get(reverse("diary"))  # a person's request does refresh it
    assert client.session[IdleSessionMiddleware.KEY] > stamped
