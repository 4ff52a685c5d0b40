"""The nightly orphan sweep (issue 12, item 4), against a mocked Zoom (`responses`): meetings carrying the app's
reference that the app no longer has are deleted and reported; nothing else is ever touched."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from attention.selectors import attention_count, attention_items
from practice.models import AuditEvent
from telehealth import services
from telehealth.models import MeetingState, OrphanSweep, ZoomConnection, ZoomMeeting
from telehealth.tasks import zoom_orphan_sweep
from tests.telehealth.test_zoom_client import API, TOKEN_URL, add_token

HOST = "alice@example.com"
LIST_URL = f"{API}/users/{HOST}/meetings"


@pytest.fixture
def zoom_http(settings):
    settings.ZOOM_API_BASE_URL = API
    settings.ZOOM_OAUTH_TOKEN_URL = TOKEN_URL
    cache.clear()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock
    cache.clear()


@pytest.fixture
def connection(admin_user, practitioner_a):
    return services.connection_save(actor=admin_user, practitioner=practitioner_a, zoom_user=HOST,
                                    account_id="acct-123", client_id="client-abc", client_secret="secret-xyz")


def row(practitioner, *, ref: str, state: str, zoom_id: int | None) -> ZoomMeeting:
    return ZoomMeeting.objects.create(
        practitioner=practitioner, host_user=HOST, topic="Telehealth appointment - Test Practice",
        starts_at=timezone.now() + timedelta(days=3), duration=30, timezone="Australia/Sydney",
        passcode="Ab3dE5gH9k", create_ref=ref, state=state, zoom_id=zoom_id)


def listed(meeting_id: int, agenda: str) -> dict:
    return {"uuid": f"uuid-{meeting_id}==", "id": meeting_id, "host_id": "z8y", "type": 2,
            "topic": "Telehealth appointment - Test Practice", "start_time": "2030-12-01T23:00:00Z",
            "duration": 30, "timezone": "Australia/Sydney", "agenda": agenda,
            "join_url": f"https://zoom.test/j/{meeting_id}"}


def page(*meetings: dict, next_page_token: str = "") -> dict:
    return {"page_size": 300, "total_records": len(meetings), "next_page_token": next_page_token,
            "meetings": list(meetings)}


ORPHAN_REF, OTHER_ORPHAN_REF, ACTIVE_REF, UNCONFIRMED_REF = "a" * 16, "b" * 16, "c" * 16, "d" * 16


def test_it_deletes_only_meetings_with_our_reference_and_no_live_row_on_every_page(
        zoom_http, connection, practitioner_a, client, front_desk):
    row(practitioner_a, ref=ORPHAN_REF, state=MeetingState.DELETED, zoom_id=81000000001)  # a lost delete
    row(practitioner_a, ref=OTHER_ORPHAN_REF, state=MeetingState.FAILED, zoom_id=None)  # made, never confirmed
    row(practitioner_a, ref=ACTIVE_REF, state=MeetingState.ACTIVE, zoom_id=81000000003)
    row(practitioner_a, ref=UNCONFIRMED_REF, state=MeetingState.PENDING_CREATE, zoom_id=None)  # to be adopted
    add_token(zoom_http)
    zoom_http.get(LIST_URL, json=page(
        listed(81000000001, f"ref:{ORPHAN_REF}"),
        listed(81000000009, "Staff meeting"),  # no reference: never ours to delete
        listed(81000000010, "ref:eeeeeeeeeeeeeeee"),  # a reference this database never made (e.g. staging)
        next_page_token="page-2"))
    zoom_http.get(LIST_URL, json=page(
        listed(81000000002, f"ref:{OTHER_ORPHAN_REF}"),
        listed(81000000003, f"ref:{ACTIVE_REF}"),
        listed(81000000004, f"ref:{UNCONFIRMED_REF}")))
    deleted_1 = zoom_http.delete(f"{API}/meetings/81000000001", status=204)
    deleted_2 = zoom_http.delete(f"{API}/meetings/81000000002", status=204)

    assert zoom_orphan_sweep() == 2

    assert deleted_1.call_count == deleted_2.call_count == 1
    deletes = [call.request for call in zoom_http.calls if call.request.method == "DELETE"]
    assert [parse_qs(urlsplit(r.url).query) for r in deletes] == [{"schedule_for_reminder": ["false"]}] * 2
    lists = [call.request for call in zoom_http.calls if call.request.method == "GET"]
    assert parse_qs(urlsplit(lists[0].url).query) == {"type": ["upcoming"], "page_size": ["300"]}
    assert parse_qs(urlsplit(lists[1].url).query)["next_page_token"] == ["page-2"]
    sweep = OrphanSweep.objects.get()
    assert [entry["zoom_id"] for entry in sweep.deleted] == [81000000001, 81000000002]
    assert sweep.problems == [] and sweep.skipped_hosts == []
    audit = AuditEvent.objects.get(action="zoom.orphan_sweep")
    assert audit.changes["deleted"] == [81000000001, 81000000002]
    assert AuditEvent.objects.filter(action="zoom.orphan_deleted").count() == 2
    connection.refresh_from_db()
    assert "2 meetings deleted" in connection.orphan_sweep_note and not connection.orphan_sweep_skipped

    items = [item for item in attention_items() if "orphan sweep" in item.title]
    assert [item.title for item in items] == ["Zoom orphan sweep deleted 2 meetings"]
    assert HOST in items[0].reason
    assert attention_count() == len(attention_items())
    client.force_login(front_desk)
    listed_page = client.get(reverse("needs-attention")).content.decode()
    assert "Zoom orphan sweep deleted 2 meetings" in listed_page
    assert reverse("attention-sweep", args=[sweep.pk]) in listed_page  # its Dismiss button
    response = client.post(reverse("attention-sweep", args=[sweep.pk]))
    assert response.status_code == 302
    assert not any("orphan sweep" in item.title for item in attention_items())
    assert AuditEvent.objects.filter(action="zoom.orphan_sweep_dismissed").exists()


def test_a_sweep_with_nothing_to_delete_is_audited_but_not_listed(zoom_http, connection, practitioner_a):
    row(practitioner_a, ref=ACTIVE_REF, state=MeetingState.ACTIVE, zoom_id=81000000003)
    add_token(zoom_http)
    zoom_http.get(LIST_URL, json=page(listed(81000000003, f"ref:{ACTIVE_REF}")))

    assert zoom_orphan_sweep() == 0

    assert AuditEvent.objects.filter(action="zoom.orphan_sweep").count() == 1
    assert not any("orphan sweep" in item.title for item in attention_items())


def test_without_the_list_scope_it_skips_the_host_and_options_zoom_says_so(
        zoom_http, connection, practitioner_a, client, admin_user):
    row(practitioner_a, ref=ORPHAN_REF, state=MeetingState.DELETED, zoom_id=81000000001)
    add_token(zoom_http, scope="meeting:write:meeting:admin meeting:delete:meeting:admin user:read:user:admin")

    assert zoom_orphan_sweep() == 0  # and no list call (responses would refuse one)

    assert OrphanSweep.objects.get().skipped_hosts == [HOST]
    client.force_login(admin_user)
    page_text = client.get(reverse("zoom-connections")).content.decode()
    assert "Nightly orphan sweep skipped" in page_text and "meeting:read:list_meetings:admin" in page_text
    assert ZoomConnection.objects.get(pk=connection.pk).orphan_sweep_skipped is True


def test_a_delete_zoom_refuses_is_reported_in_needs_attention(zoom_http, connection, practitioner_a):
    row(practitioner_a, ref=ORPHAN_REF, state=MeetingState.DELETED, zoom_id=81000000001)
    add_token(zoom_http)
    zoom_http.get(LIST_URL, json=page(listed(81000000001, f"ref:{ORPHAN_REF}")))
    zoom_http.delete(f"{API}/meetings/81000000001", status=400,
                     json={"code": 3000, "message": "Cannot delete this meeting."})

    assert zoom_orphan_sweep() == 0

    items = [item for item in attention_items() if "orphan sweep" in item.title]
    assert [item.title for item in items] == ["Zoom orphan sweep could not finish"]
    assert "Cannot delete this meeting." in items[0].reason


def test_a_failing_connection_is_skipped_not_reported_again(zoom_http, connection, practitioner_a):
    from telehealth.models import ConnectionStatus

    ZoomConnection.objects.filter(pk=connection.pk).update(status=ConnectionStatus.FAILING)
    row(practitioner_a, ref=ORPHAN_REF, state=MeetingState.DELETED, zoom_id=81000000001)

    assert zoom_orphan_sweep() == 0  # no Zoom call at all (responses would refuse one)

    connection.refresh_from_db()
    assert "the connection is failing" in connection.orphan_sweep_note
    assert not any("orphan sweep" in item.title for item in attention_items())
