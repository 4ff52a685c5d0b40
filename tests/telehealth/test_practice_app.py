"""One Zoom app for the practice (issue 8, part 2): entered once, used by each practitioner's own connection (R1)."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from devtools.zoom_emulator import DEMO_ACCOUNT_ID, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from practice.errors import ApplicationError
from practice.models import AuditEvent
from telehealth import crypto, services
from telehealth.models import ConnectionStatus, PracticeZoomApp, ZoomConnection, ZoomMeeting
from tests.conftest import make_practitioner, sydney

NEW_SECRET = "rotated-secret-2027"
APP_URL = "zoom-practice-app"


@pytest.fixture
def four(practice, location, zoom):
    """Four practitioners, each with their own Zoom user in the practice's account."""
    people = []
    for username, first, last, plan in (("amy", "Amy", "Ash", 2), ("bo", "Bo", "Birch", 1),
                                        ("cy", "Cy", "Cedar", 2), ("di", "Di", "Dogwood", 1)):
        practitioner = make_practitioner(username, location, name=f"{first} {last}")
        zoom.add_user(f"{username}@example.com", first, last, type=plan)
        people.append(practitioner)
    return people


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def post_app(admin_client, secret: str = DEMO_CLIENT_SECRET, **overrides):
    data = {"account_id": DEMO_ACCOUNT_ID, "client_id": DEMO_CLIENT_ID, "client_secret": secret, **overrides}
    return admin_client.post(reverse(APP_URL), data, follow=True)


def pick_user(admin_client, practitioner, zoom_user: str):
    return admin_client.post(reverse("zoom-connection", args=[practitioner.pk]),
                             {"app": "practice", "zoom_user": zoom_user}, follow=True)


@pytest.fixture
def four_connected(admin_client, four):
    post_app(admin_client)
    for practitioner in four:
        pick_user(admin_client, practitioner, f"{practitioner.user.username}@example.com")
    return four


def test_four_practitioners_are_connected_with_one_secret_entered_once(admin_client, four, zoom):
    post_app(admin_client)
    for practitioner in four:
        page = admin_client.get(reverse("zoom-connection", args=[practitioner.pk])).content.decode()
        assert 'name="client_secret"' not in page  # the secret is not asked again
        response = pick_user(admin_client, practitioner, f"{practitioner.user.username}@example.com")
        assert "Connected to Zoom as" in response.content.decode()

    connections = ZoomConnection.objects.order_by("practitioner__display_name")
    assert [c.status for c in connections] == [ConnectionStatus.CONNECTED] * 4
    assert [c.zoom_user_email for c in connections] == ["amy@example.com", "bo@example.com", "cy@example.com",
                                                        "di@example.com"]
    assert {c.plan for c in connections} == {"Basic", "Licensed"}
    # One stored secret, the app's; the connections keep none of their own.
    assert all(c.uses_practice_app and c.client_secret_encrypted == "" and c.client_id == "" for c in connections)
    assert crypto.decrypt(PracticeZoomApp.load().client_secret_encrypted) == DEMO_CLIENT_SECRET
    assert len(zoom.calls("POST", "/oauth/token")) == 1  # one token, shared through the cache


def test_rotating_the_shared_secret_re_tests_all_four_and_shows_each(admin_client, four_connected, zoom):
    zoom.rotate_client_secret(NEW_SECRET)
    tokens_before = len(zoom.calls("POST", "/oauth/token"))
    user_reads_before = len(zoom.calls("GET", "/v2/users/"))

    response = post_app(admin_client, NEW_SECRET)

    html = response.content.decode()
    assert "Re-tested after the change" in html
    assert '<div class="msg msg-success">The practice&#x27;s Zoom app was saved. Re-tested the connections ' \
        'using it: 4 of 4 connected.' in html
    for practitioner in four_connected:
        assert practitioner.display_name in html.split("Re-tested after the change")[1]
    assert NEW_SECRET not in html
    assert ZoomConnection.objects.filter(status=ConnectionStatus.CONNECTED).count() == 4
    assert len(zoom.calls("GET", "/v2/users/")) - user_reads_before == 4  # each connection tested
    # The new secret got its own token (the cache key follows the credentials used).
    new_tokens = zoom.calls("POST", "/oauth/token")[tokens_before:]
    assert [call["status"] for call in new_tokens] == [200]
    # The result table is shown once, on the page right after saving.
    assert "Re-tested after the change" not in admin_client.get(reverse("zoom-connections")).content.decode()


def test_a_wrong_new_secret_fails_every_connection_using_the_app_and_says_why(admin_client, four_connected, zoom):
    own = make_practitioner("ed", four_connected[0].default_location, name="Ed Own")
    zoom.add_user("ed@example.com", "Ed", "Own")
    services.connection_test(actor=None, connection=services.connection_save(
        actor=None, practitioner=own, account_id=DEMO_ACCOUNT_ID, client_id=DEMO_CLIENT_ID,
        client_secret=DEMO_CLIENT_SECRET, zoom_user="ed@example.com"))

    html = post_app(admin_client, "not-the-secret").content.decode()

    retest_table = html.split("Re-tested after the change")[1].split("</table>")[0]
    assert retest_table.count("Invalid client_id or client_secret") == 4
    assert "Ed Own" not in retest_table  # an app of its own is not touched
    assert "0 of 4 connected" in html and '<div class="msg msg-warning">The practice' in html
    assert set(ZoomConnection.objects.filter(uses_practice_app=True).values_list("status", flat=True)) == {
        ConnectionStatus.FAILING}
    assert ZoomConnection.objects.get(practitioner=own).status == ConnectionStatus.CONNECTED


def test_re_testing_stops_when_its_time_is_up_and_says_which_were_not_tested(admin_client, four_connected,
                                                                           monkeypatch):
    monkeypatch.setattr(services, "RETEST_TOTAL_SECONDS", 0.0)

    html = post_app(admin_client, "another-secret").content.decode()

    assert html.count("Zoom took too long to test them all") == 4
    # New credentials are unproven until tested: telehealth waits for a test, as for a connection's own app.
    assert set(ZoomConnection.objects.values_list("status", flat=True)) == {ConnectionStatus.UNTESTED}


def test_saving_the_app_unchanged_re_tests_nothing_and_records_nothing(admin_client, four_connected, zoom):
    events = AuditEvent.objects.count()
    reads = len(zoom.calls("GET"))

    response = post_app(admin_client, "")  # an empty secret keeps the stored one

    assert "The practice&#x27;s Zoom app is unchanged." in response.content.decode()
    assert AuditEvent.objects.count() == events and len(zoom.calls("GET")) == reads
    assert crypto.decrypt(PracticeZoomApp.load().client_secret_encrypted) == DEMO_CLIENT_SECRET


def test_every_change_of_the_app_is_one_audit_event_with_its_field_changes(admin_client, admin_user, four):
    post_app(admin_client)
    post_app(admin_client, NEW_SECRET, client_id="other-client")
    post_app(admin_client, NEW_SECRET, client_id="other-client")  # typed again unchanged: no event

    events = list(AuditEvent.objects.filter(action="zoom.practice_app_changed").order_by("pk"))
    assert [event.changes for event in events] == [
        {"account_id": [None, DEMO_ACCOUNT_ID], "client_id": [None, DEMO_CLIENT_ID], "client_secret": "changed"},
        {"client_id": [DEMO_CLIENT_ID, "other-client"], "client_secret": "changed"},
    ]
    assert all(event.actor == admin_user for event in events)
    everything = str(list(AuditEvent.objects.values()))
    assert DEMO_CLIENT_SECRET not in everything and NEW_SECRET not in everything


def test_a_connection_change_is_one_audit_event_with_its_field_changes(admin_client, four_connected):
    amy = four_connected[0]
    connection = ZoomConnection.objects.get(practitioner=amy)
    before = AuditEvent.objects.filter(action="zoom.credentials_changed", object_id=str(connection.pk)).count()

    admin_client.post(reverse("zoom-connection", args=[amy.pk]), {
        "app": "own", "account_id": DEMO_ACCOUNT_ID, "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET, "zoom_user": "amy@example.com"})

    events = AuditEvent.objects.filter(action="zoom.credentials_changed", object_id=str(connection.pk))
    assert events.count() == before + 1
    assert events.latest("pk").changes == {"uses_practice_app": [True, False], "account_id": ["", DEMO_ACCOUNT_ID],
                                           "client_id": ["", DEMO_CLIENT_ID], "client_secret": "changed"}
    connection.refresh_from_db()
    assert not connection.uses_practice_app and connection.status == ConnectionStatus.CONNECTED


def test_a_connection_going_back_to_the_practice_app_drops_its_own_secret(admin_client, four_connected, admin_user):
    amy = four_connected[0]
    services.connection_save(actor=admin_user, practitioner=amy, account_id=DEMO_ACCOUNT_ID,
                             client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET, zoom_user="amy@example.com")

    connection = services.connection_save(actor=admin_user, practitioner=amy, uses_practice_app=True,
                                          zoom_user="amy@example.com")

    assert connection.client_secret_encrypted == "" and connection.account_id == ""
    assert AuditEvent.objects.filter(action="zoom.credentials_changed").latest("pk").changes["client_secret"] == \
        "changed"
    # Back to an app of its own: the secret must be entered again (it was not kept).
    with pytest.raises(ApplicationError, match="client secret"):
        services.connection_save(actor=admin_user, practitioner=amy, account_id=DEMO_ACCOUNT_ID,
                                 client_id=DEMO_CLIENT_ID, client_secret="", zoom_user="amy@example.com")


def test_a_connection_cannot_use_a_practice_app_that_is_not_there(practitioner_a, admin_user):
    with pytest.raises(ApplicationError, match="no Zoom app yet"):
        services.connection_save(actor=admin_user, practitioner=practitioner_a, uses_practice_app=True,
                                 zoom_user="alice@example.com")
    assert not ZoomConnection.objects.exists()


def test_zoom_client_uses_the_practice_apps_credentials_and_its_token_key(four_connected, admin_user):
    connection = ZoomConnection.objects.get(practitioner=four_connected[0])
    first = services.connection_credentials(connection)
    assert (first.account_id, first.client_id, first.client_secret) == (DEMO_ACCOUNT_ID, DEMO_CLIENT_ID,
                                                                       DEMO_CLIENT_SECRET)

    services.practice_app_save(actor=admin_user, account_id=DEMO_ACCOUNT_ID, client_id=DEMO_CLIENT_ID,
                               client_secret=NEW_SECRET)

    connection.refresh_from_db()
    second = services.zoom_client(connection).credentials
    assert second.client_secret == NEW_SECRET
    assert second.cache_key() != first.cache_key()


def test_meetings_of_a_connection_using_the_practice_app_are_made_in_its_zoom_user(
        four_connected, front_desk, location, appointment_type, client_record, zoom,
        django_capture_on_commit_callbacks):
    from scheduling.services import appointment_book

    with django_capture_on_commit_callbacks(execute=True):
        appointment_book(actor=front_desk, client=client_record, practitioner=four_connected[1], location=location,
                         appointment_type=appointment_type, starts_at=sydney(2030, 3, 4, 10), is_telehealth=True)
    meeting = ZoomMeeting.objects.get()
    assert meeting.state == "active" and meeting.host_user == "bo@example.com"
    assert zoom.state.meetings[meeting.zoom_id]["host_email"] == "bo@example.com"


def test_the_zoom_user_is_picked_from_the_accounts_users(admin_client, four):
    post_app(admin_client)
    services.connection_save(actor=None, practitioner=four[1], uses_practice_app=True, zoom_user="bo@example.com")

    html = admin_client.get(reverse("zoom-connection", args=[four[0].pk])).content.decode()

    assert '<select name="zoom_user"' in html
    assert "Amy Ash · amy@example.com · Licensed" in html
    assert "Bo Birch · bo@example.com · Basic (used by Bo Birch)" in html
    # A Zoom user not in the account is not a choice.
    response = pick_user(admin_client, four[0], "stranger@example.com")
    assert "Select a valid choice" in response.content.decode()
    assert not ZoomConnection.objects.filter(practitioner=four[0]).exists()


def test_without_the_user_read_scope_the_zoom_user_is_typed(admin_client, four, zoom):
    zoom.scopes = ("meeting:write:meeting:admin", "meeting:read:meeting:admin", "meeting:delete:meeting:admin",
                   "user:read:user:admin", "meeting:read:list_meetings:admin")
    post_app(admin_client)

    html = admin_client.get(reverse("zoom-connection", args=[four[0].pk])).content.decode()

    assert '<select name="zoom_user"' not in html and 'name="zoom_user"' in html
    assert not zoom.calls("GET", "/v2/users") or all(c["path"] != "/v2/users" for c in zoom.calls("GET"))
    response = pick_user(admin_client, four[0], "amy@example.com")
    assert "Connected to Zoom as Amy Ash (amy@example.com), Licensed plan." in response.content.decode()


def test_a_zoom_outage_while_listing_users_falls_back_to_typing(admin_client, four, zoom):
    post_app(admin_client)
    zoom.fail_next(503, count=5, path_contains="/v2/users")

    html = admin_client.get(reverse("zoom-connection", args=[four[0].pk])).content.decode()

    assert '<select name="zoom_user"' not in html and 'name="zoom_user"' in html


def test_the_page_chooses_which_app_and_offers_the_other(admin_client, four):
    url = reverse("zoom-connection", args=[four[0].pk])
    alone = admin_client.get(url).content.decode()
    assert 'name="client_secret"' in alone and "Use the practice" not in alone  # no practice app yet

    post_app(admin_client)
    shared = admin_client.get(url).content.decode()
    assert 'name="client_secret"' not in shared and "Use an app of its own instead" in shared
    own = admin_client.get(url + "?app=own").content.decode()
    assert 'name="client_secret"' in own and "Use the practice's Zoom app instead" in own


def test_the_options_pages_sit_in_the_options_layout(admin_client, four):
    for url in (reverse("zoom-connections"), reverse("zoom-connection", args=[four[0].pk])):
        html = admin_client.get(url).content.decode()
        assert 'class="options-layout"' in html and 'aria-current="page"' in html


def test_the_app_page_never_shows_the_stored_secret(admin_client, four):
    post_app(admin_client)
    html = admin_client.get(reverse("zoom-connections")).content.decode()
    assert DEMO_CLIENT_SECRET not in html and PracticeZoomApp.load().client_secret_encrypted not in html
    assert "A secret is stored." in html


def test_a_new_app_needs_a_secret(admin_client, four):
    response = post_app(admin_client, "")
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert PracticeZoomApp.load() is None


HOSTILE = ["nul\x00byte", "x" * 10_000, "emoji-😀", "line\r\nbreak", "lat1-ÿ", "cjk-漢字", " ", "tab\tbed",
           "colon:inside"]


@pytest.mark.parametrize("field", ["account_id", "client_id", "client_secret"])
@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_input_on_the_app_form_gives_form_errors_and_stores_nothing(admin_client, four, field, value):
    if value == "colon:inside" and field != "client_id":
        pytest.skip("a colon is fine in an account ID or secret")
    if value == " " and field == "client_secret":
        pytest.skip("a blank secret keeps the stored one")
    post_app(admin_client)
    stored = PracticeZoomApp.objects.values().get()

    response = admin_client.post(reverse(APP_URL), {"account_id": DEMO_ACCOUNT_ID, "client_id": DEMO_CLIENT_ID,
                                                    "client_secret": "", field: value})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="error"' in html or "form-errors" in html
    assert PracticeZoomApp.objects.values().get() == stored


def test_the_service_refuses_what_the_form_would(admin_user, db):
    with pytest.raises(ApplicationError, match="characters Zoom credentials never have"):
        services.practice_app_save(actor=admin_user, account_id="é", client_id="c", client_secret="s")
    assert PracticeZoomApp.load() is None


def test_key_rotation_re_encrypts_the_practice_apps_secret(admin_client, four, settings):
    from cryptography.fernet import Fernet

    post_app(admin_client)
    old = PracticeZoomApp.load().client_secret_encrypted
    newest = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [newest, *settings.FIELD_ENCRYPTION_KEYS]
    call_command("rotate_field_encryption")
    new = PracticeZoomApp.load().client_secret_encrypted
    assert new != old and Fernet(newest).decrypt(new.encode()).decode() == DEMO_CLIENT_SECRET


@pytest.mark.parametrize(("role", "status"), [("front_desk", 403), ("practitioner_a", 403), ("admin_user", 302)])
def test_only_a_practice_admin_saves_the_app(client, request, role, status, db):
    user = request.getfixturevalue(role)
    client.force_login(user if role != "practitioner_a" else user.user)
    response = client.post(reverse(APP_URL), {"account_id": "a", "client_id": "b", "client_secret": "c"})
    assert response.status_code == status
    assert PracticeZoomApp.objects.exists() is (status == 302)


def test_the_demo_practice_uses_the_practice_app(db):
    from tests.conftest import ensure_roles

    ensure_roles()
    call_command("seed_demo")

    app = PracticeZoomApp.load()
    assert (app.account_id, app.client_id) == (DEMO_ACCOUNT_ID, DEMO_CLIENT_ID)
    assert crypto.decrypt(app.client_secret_encrypted) == DEMO_CLIENT_SECRET
    connections = ZoomConnection.objects.all()
    assert connections.count() == 3
    assert all(c.uses_practice_app and not c.client_secret_encrypted for c in connections)
    assert {c.zoom_user_type for c in connections} == {1, 2}


@pytest.mark.parametrize(("role", "get_status", "post_status"), [
    (None, 302, 302), ("front_desk", 403, 403), ("practitioner_a", 403, 403), ("admin_user", 302, 200)])
def test_the_app_url_answers_each_role(client, request, role, get_status, post_status, db):
    """The rows tests/test_access.py needs for zoom-practice-app (an empty POST is a form with errors)."""
    if role:
        user = request.getfixturevalue(role)
        client.force_login(user.user if role == "practitioner_a" else user)
    assert client.get(reverse(APP_URL)).status_code == get_status
    assert client.post(reverse(APP_URL), {}).status_code == post_status
    assert not PracticeZoomApp.objects.exists()
