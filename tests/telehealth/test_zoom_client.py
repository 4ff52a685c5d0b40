"""telehealth.zoom against a mocked Zoom: tokens, every row of ZOOM.md's error table, bodies, secrets."""

import json
import re
import threading
import time
from base64 import b64encode
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests
import responses
import time_machine
from django.core.cache import cache

from telehealth import zoom
from telehealth.zoom import (
    SECURITY_DEFAULTS,
    Meeting,
    MeetingRequest,
    MeetingSettings,
    ZoomAuthError,
    ZoomClient,
    ZoomCredentials,
    ZoomError,
    ZoomNotFound,
    ZoomRateLimited,
    ZoomScopeError,
    ZoomTimeoutError,
    ZoomTransientError,
    generate_passcode,
    missing_scopes,
    settings_differences,
)

API = "http://zoom.test/v2"
TOKEN_URL = "http://zoom.test/oauth/token"
SECRET = "client-secret-must-never-show"
ACCESS_TOKEN = "access-token-must-never-show"
START_URL = "https://zoom.test/s/85746065123?zak=host-token-must-never-show"
CREDENTIALS = ZoomCredentials(account_id="acct-123", client_id="client-abc", client_secret=SECRET)
USER = "alice@example.com"
MEETING_ID = 85746065123
MEETING_URL = f"{API}/meetings/{MEETING_ID}"
CLASSIC_SCOPES = "meeting:write:admin meeting:read:admin user:read:admin"
R4_SETTINGS = {k: v for k, v in SECURITY_DEFAULTS.items() if k != "email_notification"}


def meeting_request(**overrides) -> MeetingRequest:
    values = {
        "topic": "Telehealth appointment - Test Practice",
        # 10:00 on 2 December in Sydney is AEDT (+11): 23:00 UTC the day before, ZOOM.md's example.
        "start_time": datetime(2026, 12, 2, 10, 0, tzinfo=ZoneInfo("Australia/Sydney")),
        "duration": 30,
        "timezone": "Australia/Sydney",
        "password": "Ab3dE5gH9k",
        **overrides,
    }
    return MeetingRequest(**values)


def meeting_json(**overrides) -> dict:
    """A GET /meetings/{id} answer; the create (201) answer is the same without status and host_id."""
    return {
        "id": MEETING_ID, "uuid": "aDYlohsHRtCd4ii1uC2+hA==", "host_id": "z8yAAAAA8bbbQ", "host_email": USER,
        "topic": "Telehealth appointment - Test Practice", "type": 2, "status": "waiting",
        "start_time": "2026-12-01T23:00:00Z", "duration": 30, "timezone": "Australia/Sydney",
        "created_at": "2026-11-20T01:02:03Z", "start_url": START_URL,
        "join_url": f"https://zoom.test/j/{MEETING_ID}?pwd=abc", "password": "Ab3dE5gH9k",
        "settings": {**R4_SETTINGS, "mute_upon_entry": False},
        **overrides,
    }


def created_meeting_json() -> dict:
    data = meeting_json()
    for absent in ("status", "host_id", "uuid"):
        del data[absent]
    return data


def user_json(**overrides) -> dict:
    return {"id": "z8yAAAAA8bbbQ", "email": USER, "first_name": "Alice", "last_name": "Allen", "type": 2,
            "timezone": "Australia/Sydney", **overrides}


def add_token(mock: responses.RequestsMock, token: str = ACCESS_TOKEN, *, scope: str = CLASSIC_SCOPES,
              expires_in: int = 3600) -> responses.BaseResponse:
    return mock.post(TOKEN_URL, json={"access_token": token, "token_type": "bearer", "expires_in": expires_in,
                                      "scope": scope})


def token_calls(mock: responses.RequestsMock) -> int:
    return sum(call.request.url == TOKEN_URL for call in mock.calls)


def api_calls(mock: responses.RequestsMock) -> list:
    return [call for call in mock.calls if call.request.url != TOKEN_URL]


@pytest.fixture(autouse=True)
def zoom_settings(settings):
    settings.ZOOM_API_BASE_URL = API
    settings.ZOOM_OAUTH_TOKEN_URL = TOKEN_URL
    settings.ZOOM_CONNECT_TIMEOUT = 1.5
    settings.ZOOM_READ_TIMEOUT = 7.0


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def zoom_http():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def zoom_client() -> ZoomClient:
    return ZoomClient(CREDENTIALS)


# Token ----------------------------------------------------------------------------------------------------------


def test_it_fetches_the_token_with_basic_auth_and_a_form_body(zoom_http, zoom_client):
    add_token(zoom_http)
    zoom_http.get(f"{API}/users/{USER}", json=user_json())

    zoom_client.get_user(USER)

    token_request, api_request = (call.request for call in zoom_http.calls)
    assert token_request.url == TOKEN_URL
    assert token_request.headers["Authorization"] == "Basic " + b64encode(f"client-abc:{SECRET}".encode()).decode()
    assert token_request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(token_request.body) == {"grant_type": ["account_credentials"], "account_id": ["acct-123"]}
    assert api_request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"


def test_it_uses_one_token_for_many_calls(zoom_http, zoom_client):
    token = add_token(zoom_http)
    zoom_http.get(f"{API}/users/{USER}", json=user_json())
    zoom_http.get(MEETING_URL, json=meeting_json())

    for _ in range(3):
        zoom_client.get_user(USER)
    ZoomClient(CREDENTIALS).get_meeting(MEETING_ID)  # another client, same credentials: same cached token

    assert token.call_count == 1
    assert len(api_calls(zoom_http)) == 4


def test_it_fetches_a_new_token_a_minute_before_expiry(zoom_http, zoom_client):
    add_token(zoom_http, "token-1")
    add_token(zoom_http, "token-2")
    zoom_http.get(f"{API}/users/{USER}", json=user_json())

    with time_machine.travel(datetime(2026, 11, 1, 9, 0, tzinfo=UTC), tick=False) as traveller:
        zoom_client.get_user(USER)
        traveller.shift(timedelta(seconds=3600 - 61))
        zoom_client.get_user(USER)
        traveller.shift(timedelta(seconds=2))
        zoom_client.get_user(USER)

    used = [call.request.headers["Authorization"] for call in api_calls(zoom_http)]
    assert used == ["Bearer token-1", "Bearer token-1", "Bearer token-2"]
    assert token_calls(zoom_http) == 2


def test_it_waits_for_another_workers_token_instead_of_fetching(zoom_http, zoom_client, monkeypatch):
    monkeypatch.setattr(zoom, "TOKEN_POLL_SECONDS", 0.01)
    key = CREDENTIALS.cache_key()
    assert cache.add(f"{key}:lock", 1, timeout=10)  # another worker is fetching
    theirs = {"access_token": "their-token", "scope": "", "use_until": str(time.time() + 60)}
    threading.Timer(0.1, cache.set, (key, theirs, 60)).start()
    zoom_http.get(f"{API}/users/{USER}", json=user_json())

    zoom_client.get_user(USER)

    assert token_calls(zoom_http) == 0
    assert zoom_http.calls[0].request.headers["Authorization"] == "Bearer their-token"


def test_it_fetches_its_own_token_when_the_lock_holder_is_too_slow(zoom_http, zoom_client, monkeypatch):
    monkeypatch.setattr(zoom, "TOKEN_WAIT_SECONDS", 0.05)
    monkeypatch.setattr(zoom, "TOKEN_POLL_SECONDS", 0.01)
    assert cache.add(f"{CREDENTIALS.cache_key()}:lock", 1, timeout=10)
    add_token(zoom_http)
    zoom_http.get(f"{API}/users/{USER}", json=user_json())

    zoom_client.get_user(USER)

    assert token_calls(zoom_http) == 1


def test_it_reads_the_cache_again_once_it_holds_the_lock(zoom_http, zoom_client, monkeypatch):
    class LateCache:
        """The first read misses; by the time the lock is taken the previous holder has cached its token."""

        reads = 0

        def get(self, key):
            self.reads += 1
            if self.reads == 1:
                cache.set(key, {"access_token": "their-token", "scope": "", "use_until": str(time.time() + 60)}, 60)
                return None
            return cache.get(key)

        def __getattr__(self, name):
            return getattr(cache, name)

    monkeypatch.setattr(zoom, "cache", LateCache())
    zoom_http.get(f"{API}/users/{USER}", json=user_json())

    zoom_client.get_user(USER)

    assert token_calls(zoom_http) == 0
    assert zoom_http.calls[0].request.headers["Authorization"] == "Bearer their-token"


def test_it_lets_one_of_many_concurrent_workers_fetch_the_token(zoom_http, monkeypatch):
    monkeypatch.setattr(zoom, "TOKEN_POLL_SECONDS", 0.01)

    def slow_token(request):
        time.sleep(0.2)  # long enough for every thread to miss the cache
        return 200, {}, json.dumps({"access_token": ACCESS_TOKEN, "expires_in": 3600, "scope": CLASSIC_SCOPES})

    zoom_http.add_callback(responses.POST, TOKEN_URL, callback=slow_token)
    zoom_http.get(f"{API}/users/{USER}", json=user_json())
    errors = []

    def worker():
        try:
            ZoomClient(CREDENTIALS).get_user(USER)
        except Exception as exc:  # a thread cannot fail the test itself: collect and assert below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert token_calls(zoom_http) == 1
    assert len(api_calls(zoom_http)) == 8


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"reason": "Invalid client_id or client_secret", "error": "invalid_client"}, "client ID or client secret"),
        ({"reason": "unsupported grant type", "error": "unsupported_grant_type"}, "Server-to-Server OAuth app"),
    ],
)
def test_it_reports_a_refused_token_as_a_permanent_auth_error(zoom_http, zoom_client, body, expected):
    zoom_http.post(TOKEN_URL, status=400, json=body)

    with pytest.raises(ZoomAuthError) as caught:
        zoom_client.get_user(USER)

    assert expected in caught.value.message
    assert body["error"] in caught.value.message
    assert caught.value.permanent is True
    assert caught.value.http_status == 400
    assert len(zoom_http.calls) == 1  # no API call with no token


def test_it_treats_a_token_endpoint_outage_as_transient(zoom_http, zoom_client):
    zoom_http.post(TOKEN_URL, status=503, body="<html>Service Unavailable</html>")

    with pytest.raises(ZoomTransientError) as caught:
        zoom_client.get_user(USER)

    assert caught.value.permanent is False


def test_it_reads_granted_scopes_from_the_cached_token(zoom_http, zoom_client):
    token = add_token(zoom_http, scope="meeting:read:meeting:admin user:read:user:admin")

    assert zoom_client.granted_scopes() == {"meeting:read:meeting:admin", "user:read:user:admin"}
    assert zoom_client.granted_scopes() == {"meeting:read:meeting:admin", "user:read:user:admin"}
    assert token.call_count == 1


def test_it_keys_the_token_cache_by_credentials_without_the_secret():
    other_secret = ZoomCredentials(account_id="acct-123", client_id="client-abc", client_secret="another-secret")

    assert CREDENTIALS.cache_key() == ZoomCredentials("acct-123", "client-abc", SECRET).cache_key()
    assert CREDENTIALS.cache_key() != other_secret.cache_key()
    assert CREDENTIALS.cache_key().startswith("zoom-token:")
    assert SECRET not in CREDENTIALS.cache_key()
    assert SECRET not in repr(CREDENTIALS)


# Settings --------------------------------------------------------------------------------------------------------


def test_it_takes_base_urls_and_timeouts_from_settings_at_call_time(zoom_http, zoom_client, settings):
    settings.ZOOM_API_BASE_URL = "http://other.test/api/v2/"
    settings.ZOOM_OAUTH_TOKEN_URL = "http://other.test/oauth/token"
    zoom_http.post("http://other.test/oauth/token", json={"access_token": ACCESS_TOKEN, "expires_in": 3600})
    zoom_http.get(f"http://other.test/api/v2/users/{USER}", json=user_json())

    zoom_client.get_user(USER)

    assert [call.request.req_kwargs["timeout"] for call in zoom_http.calls] == [(1.5, 7.0), (1.5, 7.0)]


# Calls ----------------------------------------------------------------------------------------------------------


def test_it_creates_a_meeting_with_zoom_mds_body(zoom_http, zoom_client):
    add_token(zoom_http)
    zoom_http.post(f"{API}/users/{USER}/meetings", status=201, json=created_meeting_json())

    meeting = zoom_client.create_meeting(USER, meeting_request())

    sent = zoom_http.calls[1].request
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.body) == {
        "topic": "Telehealth appointment - Test Practice", "type": 2,
        "start_time": "2026-12-01T23:00:00Z", "duration": 30, "timezone": "Australia/Sydney",
        "password": "Ab3dE5gH9k", "agenda": "",
        "settings": {"host_video": True, "participant_video": True, "waiting_room": True,
                     "join_before_host": True, "auto_recording": "none", "approval_type": 2,
                     "email_notification": False},
    }
    assert meeting.id == MEETING_ID
    assert meeting.start_time == datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    assert meeting.start_time.utcoffset() == timedelta(0)
    assert (meeting.join_url, meeting.password) == (f"https://zoom.test/j/{MEETING_ID}?pwd=abc", "Ab3dE5gH9k")
    assert (meeting.status, meeting.host_id) == ("", "")  # absent from Zoom's 201


def test_it_reads_a_meeting_back_with_its_applied_settings(zoom_http, zoom_client):
    add_token(zoom_http)
    zoom_http.get(MEETING_URL, json=meeting_json(settings={**R4_SETTINGS, "waiting_room": False}))

    meeting = zoom_client.get_meeting(MEETING_ID)

    assert isinstance(meeting, Meeting)
    assert meeting.start_url == START_URL
    assert START_URL not in repr(meeting)
    assert meeting.status == "waiting"
    assert meeting.settings.as_dict() == {**R4_SETTINGS, "waiting_room": False}
    assert settings_differences(meeting.settings) == ["Waiting room is off in Zoom (expected on)."]


def test_it_updates_with_patch_and_never_parses_the_204(zoom_http, zoom_client, monkeypatch):
    add_token(zoom_http)
    zoom_http.patch(MEETING_URL, status=204)
    zoom_client.granted_scopes()  # the token response is JSON; from here on nothing may be parsed

    def refuse_to_parse(response):
        raise AssertionError(f"parsed the body of a {response.status_code}")

    monkeypatch.setattr(requests.Response, "json", refuse_to_parse)

    assert zoom_client.update_meeting(MEETING_ID, meeting_request(duration=45)) is None

    assert json.loads(zoom_http.calls[1].request.body) == meeting_request(duration=45).body()


def test_it_deletes_without_zooms_reminder_email(zoom_http, zoom_client):
    add_token(zoom_http)
    zoom_http.delete(MEETING_URL, status=204)

    assert zoom_client.delete_meeting(MEETING_ID) is None

    url = urlsplit(zoom_http.calls[1].request.url)
    assert (url.path, url.query) == (f"/v2/meetings/{MEETING_ID}", "schedule_for_reminder=false")


@pytest.mark.parametrize(("zoom_type", "plan", "is_basic"), [(1, "Basic", True), (2, "Licensed", False),
                                                             (99, "Other (type 99)", False)])
def test_it_gets_a_user_and_their_plan(zoom_http, zoom_client, zoom_type, plan, is_basic):
    add_token(zoom_http)
    zoom_http.get(f"{API}/users/{USER}", json=user_json(type=zoom_type))

    user = zoom_client.get_user(USER)

    assert (user.plan, user.is_basic, user.display_name) == (plan, is_basic, "Alice Allen")
    assert (user.email, user.timezone) == (USER, "Australia/Sydney")


def test_it_quotes_user_ids_in_paths_and_refuses_me(zoom_http, zoom_client):
    add_token(zoom_http)
    zoom_http.get(re.compile(rf"{API}/users/.*"), json=user_json())

    zoom_client.get_user("o'brien+zoom@example.com")

    assert zoom_http.calls[1].request.path_url == "/v2/users/o%27brien%2Bzoom@example.com"
    with pytest.raises(ValueError, match="'me'"):
        zoom_client.get_user("me")


# Errors: one test per row of ZOOM.md's table ------------------------------------------------------------------


def test_it_refetches_the_token_once_after_code_124(zoom_http, zoom_client):
    add_token(zoom_http, "stale-token")
    add_token(zoom_http, "fresh-token")
    zoom_http.get(f"{API}/users/{USER}", status=401, json={"code": 124, "message": "Invalid access token."})
    zoom_http.get(f"{API}/users/{USER}", json=user_json())

    assert zoom_client.get_user(USER).email == USER

    used = [call.request.headers["Authorization"] for call in api_calls(zoom_http)]
    assert used == ["Bearer stale-token", "Bearer fresh-token"]
    assert token_calls(zoom_http) == 2


def test_it_raises_when_the_fresh_token_gets_124_too(zoom_http, zoom_client):
    add_token(zoom_http)
    zoom_http.get(f"{API}/users/{USER}", status=401, json={"code": 124, "message": "Invalid access token."})

    with pytest.raises(ZoomAuthError) as caught:
        zoom_client.get_user(USER)

    assert (caught.value.code, caught.value.http_status, caught.value.permanent) == (124, 401, True)
    assert token_calls(zoom_http) == 2
    assert len(api_calls(zoom_http)) == 2


# ZOOM.md says 4700; the live API and devtools/zoom_emulator.py say 4711 for the same thing.
@pytest.mark.parametrize(("status", "code"), [(400, 4700), (401, 4700), (400, 4711)])
def test_it_raises_a_scope_error_naming_the_scope_without_retrying(zoom_http, zoom_client, status, code):
    add_token(zoom_http)
    message = "Invalid access token, does not contain scopes:[meeting:delete:meeting:admin]."
    zoom_http.delete(MEETING_URL, status=status, json={"code": code, "message": message})

    with pytest.raises(ZoomScopeError) as caught:
        zoom_client.delete_meeting(MEETING_ID)

    assert "meeting:delete:meeting:admin" in caught.value.message
    assert (caught.value.code, caught.value.permanent) == (code, True)
    assert len(zoom_http.calls) == 2


def test_it_treats_validation_error_300_as_permanent(zoom_http, zoom_client):
    add_token(zoom_http)
    message = "Invalid parameter: password."
    zoom_http.post(f"{API}/users/{USER}/meetings", status=400, json={"code": 300, "message": message})

    with pytest.raises(ZoomError) as caught:
        zoom_client.create_meeting(USER, meeting_request())

    assert type(caught.value) is ZoomError
    assert (caught.value.message, caught.value.code, caught.value.http_status) == (message, 300, 400)
    assert caught.value.permanent is True


def test_it_raises_not_found_for_an_unknown_zoom_user(zoom_http, zoom_client):
    add_token(zoom_http)
    zoom_http.get(f"{API}/users/{USER}", status=404,
                  json={"code": 1001, "message": f"User {USER} not exist or not belong to this account."})

    with pytest.raises(ZoomNotFound) as caught:
        zoom_client.get_user(USER)

    assert (caught.value.code, caught.value.permanent) == (1001, True)


def test_it_counts_a_missing_meeting_as_deleted(zoom_http, zoom_client):
    add_token(zoom_http)
    zoom_http.delete(MEETING_URL, status=404,
                     json={"code": 3001, "message": f"Meeting {MEETING_ID} is not found or has expired."})

    assert zoom_client.delete_meeting(MEETING_ID) is None


def test_it_raises_other_not_founds_on_delete(zoom_http, zoom_client):
    add_token(zoom_http)
    zoom_http.delete(MEETING_URL, status=404, json={"code": 1001, "message": "User does not exist: x."})

    with pytest.raises(ZoomNotFound):
        zoom_client.delete_meeting(MEETING_ID)


def test_it_raises_not_found_for_a_missing_meeting_on_get(zoom_http, zoom_client):
    add_token(zoom_http)
    zoom_http.get(MEETING_URL, status=404,
                  json={"code": 3001, "message": f"Meeting {MEETING_ID} is not found or has expired."})

    with pytest.raises(ZoomNotFound) as caught:
        zoom_client.get_meeting(MEETING_ID)

    assert caught.value.code == 3001


@pytest.mark.parametrize(
    ("method", "code", "message"),
    [
        (responses.PATCH, 3000, "You cannot update or delete meetings that have started using this method."),
        (responses.DELETE, 3002, "Sorry, you cannot delete this meeting since it is in progress."),
        (responses.DELETE, 3003, "You are not the meeting host."),
        (responses.DELETE, 3007, "Sorry, you cannot delete this meeting since it has ended."),
    ],
)
def test_it_passes_zooms_message_on_for_meeting_state_errors(zoom_http, zoom_client, method, code, message):
    add_token(zoom_http)
    zoom_http.add(method, MEETING_URL, status=400, json={"code": code, "message": message})

    with pytest.raises(ZoomError) as caught:
        if method == responses.PATCH:
            zoom_client.update_meeting(MEETING_ID, meeting_request())
        else:
            zoom_client.delete_meeting(MEETING_ID)

    assert (str(caught.value), caught.value.code, caught.value.permanent) == (message, code, True)


def rate_limited(zoom_http, zoom_client, headers: dict, message: str = "Too many requests.") -> ZoomRateLimited:
    add_token(zoom_http)
    zoom_http.get(MEETING_URL, status=429, headers=headers, json={"code": 429, "message": message})
    with pytest.raises(ZoomRateLimited) as caught:
        zoom_client.get_meeting(MEETING_ID)
    assert (caught.value.permanent, caught.value.http_status) == (False, 429)
    return caught.value


def test_it_honours_retry_after_in_seconds(zoom_http, zoom_client):
    error = rate_limited(zoom_http, zoom_client, {"Retry-After": "17"})

    assert (error.retry_after, error.daily_limit) == (17.0, False)


def test_it_honours_retry_after_as_an_http_date(zoom_http, zoom_client):
    now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        error = rate_limited(zoom_http, zoom_client, {"Retry-After": format_datetime(now + timedelta(minutes=2), True)})

    assert error.retry_after == 120.0


def test_it_allows_retry_after_to_be_absent(zoom_http, zoom_client):
    assert rate_limited(zoom_http, zoom_client, {}).retry_after is None


def test_it_explains_zooms_daily_create_and_update_limit(zoom_http, zoom_client):
    message = ("You have exceeded the daily rate limit of (100) for Create/Update meeting API requests for this "
               "user. You can resubmit your request when the rate limit expires.")

    error = rate_limited(zoom_http, zoom_client, {}, message)

    assert error.daily_limit is True
    assert "100 meeting create and update requests per host user per UTC day" in error.message
    assert "00:00 UTC" in error.message


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, json.dumps({"code": 500, "message": "Internal error."})), (502, "<html>Bad Gateway</html>"), (503, "")],
)
def test_it_treats_5xx_as_transient_whatever_the_body(zoom_http, zoom_client, status, body):
    add_token(zoom_http)
    zoom_http.get(MEETING_URL, status=status, body=body)

    with pytest.raises(ZoomTransientError) as caught:
        zoom_client.get_meeting(MEETING_ID)

    assert (caught.value.permanent, caught.value.maybe_applied, caught.value.http_status) == (False, False, status)


def test_it_reads_a_non_json_4xx_as_a_permanent_error(zoom_http, zoom_client):
    add_token(zoom_http)
    zoom_http.get(MEETING_URL, status=400, body="<html>Bad Request</html>")

    with pytest.raises(ZoomError) as caught:
        zoom_client.get_meeting(MEETING_ID)

    assert caught.value.permanent is True
    assert "HTTP 400" in caught.value.message


@pytest.mark.parametrize("failure", [requests.ConnectionError("refused"), requests.ConnectTimeout("slow SYN")])
def test_it_treats_connection_failures_as_transient_and_not_applied(zoom_http, zoom_client, failure):
    add_token(zoom_http)
    zoom_http.post(f"{API}/users/{USER}/meetings", body=failure)

    with pytest.raises(ZoomTransientError) as caught:
        zoom_client.create_meeting(USER, meeting_request())

    assert not isinstance(caught.value, ZoomTimeoutError)
    assert (caught.value.permanent, caught.value.maybe_applied) == (False, False)


def test_it_flags_a_read_timeout_as_maybe_applied(zoom_http, zoom_client):
    add_token(zoom_http)
    zoom_http.post(f"{API}/users/{USER}/meetings", body=requests.ReadTimeout("no answer"))

    with pytest.raises(ZoomTimeoutError) as caught:
        zoom_client.create_meeting(USER, meeting_request())

    assert isinstance(caught.value, ZoomTransientError)
    assert (caught.value.permanent, caught.value.maybe_applied) == (False, True)


def test_it_keeps_secrets_out_of_errors_and_logs(zoom_http, zoom_client, caplog):
    caplog.set_level("DEBUG", logger="telehealth.zoom")
    zoom_http.post(TOKEN_URL, status=400, json={"reason": "Invalid client_id or client_secret",
                                                "error": "invalid_client"})
    add_token(zoom_http)  # the later token requests succeed
    zoom_http.get(f"{API}/users/{USER}", status=401, json={"code": 124, "message": "Invalid access token."})
    zoom_http.get(MEETING_URL, body=requests.ReadTimeout(f"timed out reading {START_URL}"))
    errors = []
    calls = [lambda: zoom_client.get_user(USER), lambda: zoom_client.get_user(USER),
             lambda: zoom_client.get_meeting(MEETING_ID)]
    for call in calls:
        with pytest.raises(ZoomError) as caught:
            call()
        errors.append(caught.value)

    assert [type(error) for error in errors] == [ZoomAuthError, ZoomAuthError, ZoomTimeoutError]
    assert "code 124" in caplog.text  # something was logged, and it is checked below
    for text in [*map(str, errors), *map(repr, errors), caplog.text]:
        for secret in (SECRET, ACCESS_TOKEN, "host-token-must-never-show"):
            assert secret not in text


# Values ---------------------------------------------------------------------------------------------------------


def test_it_refuses_requests_zoom_would_reject():
    with pytest.raises(ValueError, match="aware"):
        meeting_request(start_time=datetime(2026, 12, 2, 10, 0))
    with pytest.raises(ValueError, match="passcode"):
        meeting_request(password="Ab3dE5gH9k1")  # 11 characters
    with pytest.raises(ValueError, match="200"):
        meeting_request(topic="x" * 201)


def r4_settings(**overrides) -> MeetingSettings:
    return MeetingSettings(**{**R4_SETTINGS, **overrides})


def test_it_finds_no_differences_when_zoom_applied_r4():
    assert settings_differences(r4_settings()) == []


def test_it_names_each_setting_zoom_changed():
    applied = r4_settings(host_video=False, join_before_host=False, auto_recording="cloud", approval_type=0)

    assert settings_differences(applied) == [
        "Host video is off in Zoom (expected on).",
        "Join before host is off in Zoom (expected on).",
        "Automatic recording is set to 'cloud' in Zoom (expected off).",
        "Zoom requires registration (approval type 0; expected no registration).",
    ]


def test_it_treats_absent_values_as_differences_only_for_r4_booleans():
    applied = MeetingSettings(host_video=None, participant_video=None, waiting_room=None, join_before_host=None,
                              auto_recording=None, approval_type=None)

    assert settings_differences(applied) == [
        "Host video is not reported by Zoom (expected on).",
        "Participant video is not reported by Zoom (expected on).",
        "Waiting room is not reported by Zoom (expected on).",
        "Join before host is not reported by Zoom (expected on).",
    ]


def test_it_generates_random_passcodes_zoom_accepts():
    passcodes = [generate_passcode() for _ in range(200)]

    for passcode in passcodes:
        assert re.fullmatch(r"[A-Za-z0-9]{10}", passcode)
        assert re.search(r"[A-Za-z]", passcode) and re.search(r"[0-9]", passcode)
        meeting_request(password=passcode)  # and MeetingRequest accepts it
    assert len(set(passcodes)) == 200


GRANULAR = {"meeting:write:meeting:admin", "meeting:update:meeting:admin", "meeting:read:meeting:admin",
            "meeting:delete:meeting:admin", "user:read:user:admin"}


def test_it_accepts_classic_or_granular_scopes():
    assert missing_scopes(set(CLASSIC_SCOPES.split())) == []
    assert missing_scopes(GRANULAR) == []


def test_it_names_a_missing_delete_scope():
    missing = missing_scopes(GRANULAR - {"meeting:delete:meeting:admin"})

    assert len(missing) == 1
    assert "delete meetings" in missing[0]
    assert "meeting:delete:meeting:admin" in missing[0]


def test_it_does_not_ask_for_the_update_scope_the_app_never_uses():
    # A move deletes and re-creates the meeting (R7); nothing PATCHes, so no update scope is required.
    assert missing_scopes(GRANULAR - {"meeting:update:meeting:admin"}) == []


def test_it_ignores_a_cached_token_past_its_own_expiry(zoom_http, zoom_client):
    # A cache whose clock differs from ours (Redis) may still hold a token we consider expired.
    cache.set(CREDENTIALS.cache_key(), {"access_token": "stale", "scope": "", "use_until": str(time.time() - 1)}, 60)
    add_token(zoom_http)
    zoom_http.get(f"{API}/users/{USER}", json=user_json())

    zoom_client.get_user(USER)

    assert token_calls(zoom_http) == 1


def test_it_says_maybe_applied_when_the_connection_drops_after_sending(settings, zoom_client):
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def swallow_and_hang_up():
        connection, _ = listener.accept()
        connection.recv(65536)
        connection.close()

    threading.Thread(target=swallow_and_hang_up, daemon=True).start()
    settings.ZOOM_API_BASE_URL = f"http://127.0.0.1:{listener.getsockname()[1]}/v2"
    cache.set(CREDENTIALS.cache_key(), {"access_token": "t", "scope": "", "use_until": str(time.time() + 60)}, 60)
    with responses.RequestsMock() as mock:
        mock.add_passthru("http://127.0.0.1")
        with pytest.raises(ZoomTimeoutError) as caught:
            zoom_client.create_meeting(USER, meeting_request())
    assert caught.value.maybe_applied
    listener.close()


def test_a_token_request_timeout_is_simply_transient(zoom_http, zoom_client):
    zoom_http.post(TOKEN_URL, body=requests.ReadTimeout("slow"))

    with pytest.raises(ZoomTransientError) as caught:
        zoom_client.get_user(USER)

    assert not isinstance(caught.value, ZoomTimeoutError) and not caught.value.permanent


# Token cache down, bad stored credentials, the web budget, on_send ---------------------------------------------


def test_a_token_cache_outage_is_a_transient_error_with_a_reason(zoom_http, zoom_client, monkeypatch):
    class DownCache:
        def __getattr__(self, name):
            def down(*args, **kwargs):
                raise ConnectionError("Error 111 connecting to redis:6379. Connection refused.")

            return down

    monkeypatch.setattr(zoom, "cache", DownCache())
    sent = []

    with pytest.raises(ZoomTransientError) as caught:
        zoom_client.create_meeting(USER, meeting_request(), on_send=lambda: sent.append(1))

    assert "token cache" in caught.value.message and "ConnectionError" in caught.value.message
    assert caught.value.maybe_applied is False
    assert sent == [] and len(zoom_http.calls) == 0  # nothing left for Zoom
    zoom_http.reset()  # the mock's assert_all_requests_are_fired has nothing registered


@pytest.mark.parametrize(("field_name", "value"), [("client_secret", "sécret-€"), ("client_id", "clïent"),
                                                   ("account_id", "acct 1"), ("client_id", "a:b")])
def test_stored_credentials_zoom_could_never_accept_fail_clearly_without_a_request(zoom_http, field_name, value):
    credentials = ZoomCredentials(**{"account_id": "acct-123", "client_id": "client-abc", "client_secret": SECRET,
                                     field_name: value})

    with pytest.raises(ZoomAuthError) as caught:
        ZoomClient(credentials).get_user(USER)

    assert caught.value.permanent and "Copy it again" in caught.value.message
    assert len(zoom_http.calls) == 0


def test_on_send_runs_only_once_the_token_is_in_hand(zoom_http, zoom_client):
    zoom_http.post(TOKEN_URL, status=503, body="")
    order = []

    with pytest.raises(ZoomTransientError):
        zoom_client.create_meeting(USER, meeting_request(), on_send=lambda: order.append("sent"))
    assert order == []

    add_token(zoom_http)
    zoom_http.post(f"{API}/users/{USER}/meetings", status=201, json=created_meeting_json())
    zoom_client.create_meeting(USER, meeting_request(), on_send=lambda: order.append("sent"))
    assert order == ["sent"]


def test_a_budget_caps_every_timeout_of_the_client(zoom_http, settings):
    settings.ZOOM_CONNECT_TIMEOUT, settings.ZOOM_READ_TIMEOUT = 3.05, 10.0
    add_token(zoom_http)
    zoom_http.get(MEETING_URL, json=meeting_json())

    ZoomClient(CREDENTIALS, budget=2.0).get_meeting(MEETING_ID)

    for call in zoom_http.calls:
        connect, read = call.request.req_kwargs["timeout"]
        assert connect <= 2.0 and read <= 2.0


def test_a_spent_budget_is_a_transient_error_before_any_request(zoom_http):
    client = ZoomClient(CREDENTIALS, budget=2.0)
    client._deadline = time.monotonic() - 1  # as if 3 s had gone on an earlier call

    with pytest.raises(ZoomTransientError, match="within 2 s"):
        client.get_meeting(MEETING_ID)

    assert len(zoom_http.calls) == 0


def test_it_finds_nothing_when_no_agenda_carries_the_reference(zoom_http, zoom_client):
    add_token(zoom_http)
    zoom_http.get(f"{API}/users/{USER}/meetings", json={"meetings": [
        {"id": 1, "agenda": "ref:other"}, {"id": 2, "agenda": ""}], "next_page_token": ""})

    assert zoom_client.find_meeting_by_agenda(USER, "ref:mine") is None


def test_a_missing_list_scope_is_a_scope_error(zoom_http, zoom_client):
    add_token(zoom_http)
    zoom_http.get(f"{API}/users/{USER}/meetings", status=400, json={
        "code": 4711, "message": "Invalid access token, does not contain scopes:[meeting:read:list_meetings:admin]."})

    with pytest.raises(ZoomScopeError):
        zoom_client.find_meeting_by_agenda(USER, "ref:mine")


def test_the_list_scope_is_recommended_not_required():
    granular = {"meeting:write:meeting:admin", "meeting:read:meeting:admin", "meeting:delete:meeting:admin",
                "user:read:user:admin"}
    assert missing_scopes(granular) == []
    assert missing_scopes(granular, recommended=True) == [
        "list meetings (meeting:read:admin or meeting:read:list_meetings:admin)"]
    assert missing_scopes({"meeting:read:admin"}, recommended=True) == []


@pytest.mark.parametrize(("header", "expected"), [
    ("120", 120.0), ("²", None), ("99999999999999999999999", 2 * 24 * 3600.0), ("Fri, 31 Dec 9999 23:59:59 GMT",
                                                                           2 * 24 * 3600.0), ("soon", None),
])
def test_a_retry_after_zoom_could_not_mean_is_ignored_or_capped(header, expected):
    from telehealth.zoom import _retry_after

    assert _retry_after(header) == expected
