"""The local Zoom emulator (devtools/zoom_emulator.py), driven over HTTP with requests."""

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from devtools.zoom_emulator import (
    DEMO_ACCOUNT_ID,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    ZoomEmulator,
    start_in_thread,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CREATE_BODY = {
    "topic": "Telehealth appointment - Test Practice", "type": 2, "start_time": "2026-12-01T23:00:00Z",
    "duration": 30, "timezone": "Australia/Sydney", "password": "Ab3@-_*x9", "agenda": "",
    "settings": {"host_video": True, "participant_video": True, "waiting_room": True, "join_before_host": True,
                 "auto_recording": "none", "approval_type": 2, "email_notification": False},
}


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def emu():
    emulator = start_in_thread()
    yield emulator
    emulator.stop()


@pytest.fixture
def clock(emu) -> FakeClock:
    fake = FakeClock(datetime(2026, 11, 30, 22, 0, tzinfo=UTC))
    emu.clock = fake
    return fake


def get_token(emu: ZoomEmulator, **form) -> requests.Response:
    data = {"grant_type": "account_credentials", "account_id": DEMO_ACCOUNT_ID, **form}
    return requests.post(emu.token_url, data=data, auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET), timeout=5)


@pytest.fixture
def api(emu) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {get_token(emu).json()['access_token']}"
    yield session
    session.close()


def create(emu, api, body=None, user="amelia@example.com") -> requests.Response:
    return api.post(f"{emu.api_base_url}/users/{user}/meetings", json=CREATE_BODY if body is None else body,
                    timeout=5)


def assert_zoom_error(response: requests.Response, status: int, code: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    return body


def test_it_issues_tokens_from_a_form_body_or_the_query_string(emu):
    response = get_token(emu)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "meeting:write:admin meeting:read:admin user:read:admin"
    assert response.headers["Cache-Control"] == "no-store"

    by_query = requests.post(emu.token_url, params={"grant_type": "account_credentials",
                                                    "account_id": DEMO_ACCOUNT_ID},
                             auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET), timeout=5)
    assert by_query.status_code == 200
    assert by_query.json()["access_token"] != body["access_token"]
    assert len(emu.state.tokens) == 2  # several tokens are valid at once
    assert emu.state.request_log[0]["auth_scheme"] == "Basic"
    assert emu.state.request_log[0]["form"] == {"grant_type": "account_credentials", "account_id": DEMO_ACCOUNT_ID}


@pytest.mark.parametrize(("auth", "form", "error"), [
    ((DEMO_CLIENT_ID, "wrong"), {}, "invalid_client"),
    (("someone-else", DEMO_CLIENT_SECRET), {}, "invalid_client"),
    (None, {}, "invalid_client"),
    ((DEMO_CLIENT_ID, DEMO_CLIENT_SECRET), {"grant_type": "client_credentials"}, "unsupported_grant_type"),
    ((DEMO_CLIENT_ID, DEMO_CLIENT_SECRET), {"account_id": "another-account"}, "invalid_request"),
])
def test_it_refuses_bad_token_requests(emu, auth, form, error):
    data = {"grant_type": "account_credentials", "account_id": DEMO_ACCOUNT_ID, **form}
    response = requests.post(emu.token_url, data=data, auth=auth, timeout=5)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert response.json()["reason"]
    if error == "invalid_client":
        assert response.json() == {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}
    assert not emu.state.tokens


def test_it_answers_124_for_a_missing_unknown_or_expired_token(emu, clock):
    url = f"{emu.api_base_url}/users/u-amelia"
    assert_zoom_error(requests.get(url, timeout=5), 401, 124)
    unknown = requests.get(url, headers={"Authorization": "Bearer not-a-token"}, timeout=5)
    assert assert_zoom_error(unknown, 401, 124)["message"] == "Invalid access token."

    token = get_token(emu).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    clock.now += timedelta(minutes=59)
    assert requests.get(url, headers=headers, timeout=5).status_code == 200
    clock.now += timedelta(minutes=1)
    assert_zoom_error(requests.get(url, headers=headers, timeout=5), 401, 124)

    fresh = get_token(emu).json()["access_token"]
    emu.expire_tokens()
    assert_zoom_error(requests.get(url, headers={"Authorization": f"Bearer {fresh}"}, timeout=5), 401, 124)


def test_it_can_invalidate_older_tokens_and_withhold_scopes(emu):
    emu.max_live_tokens = 1
    first = get_token(emu).json()["access_token"]
    second = get_token(emu).json()["access_token"]
    url = f"{emu.api_base_url}/users/u-amelia"
    assert_zoom_error(requests.get(url, headers={"Authorization": f"Bearer {first}"}, timeout=5), 401, 124)
    assert requests.get(url, headers={"Authorization": f"Bearer {second}"}, timeout=5).status_code == 200

    emu.scopes = ("meeting:read:admin",)
    limited = get_token(emu).json()
    assert limited["scope"] == "meeting:read:admin"
    response = requests.get(url, headers={"Authorization": f"Bearer {limited['access_token']}"}, timeout=5)
    assert "does not contain scopes" in assert_zoom_error(response, 400, 4711)["message"]


def test_it_finds_users_by_email_or_id(emu, api):
    by_email = api.get(f"{emu.api_base_url}/users/amelia@example.com", timeout=5)
    assert by_email.status_code == 200
    user = by_email.json()
    assert {key: user[key] for key in ("id", "first_name", "last_name", "email", "type", "timezone", "status")} == {
        "id": "u-amelia", "first_name": "Amelia", "last_name": "Nguyen", "email": "amelia@example.com",
        "type": 2, "timezone": "Australia/Sydney", "status": "active"}
    assert api.get(f"{emu.api_base_url}/users/u-ben", timeout=5).json()["type"] == 1
    assert api.get(f"{emu.api_base_url}/users/Chloe%40Example.com", timeout=5).json()["id"] == "u-chloe"

    missing = api.get(f"{emu.api_base_url}/users/nobody@example.com", timeout=5)
    assert assert_zoom_error(missing, 404, 1001)["message"] == "User does not exist: nobody@example.com."
    assert_zoom_error(api.get(f"{emu.api_base_url}/users/me", timeout=5), 404, 1001)

    emu.add_user("erin@example.com", "Erin", "Lee", 2)
    assert api.get(f"{emu.api_base_url}/users/erin@example.com", timeout=5).json()["id"] == "u-erin"


def test_it_runs_a_meeting_through_create_get_patch_and_delete(emu, clock, api):
    created = create(emu, api)
    assert created.status_code == 201
    meeting = created.json()
    meeting_id = meeting["id"]
    assert isinstance(meeting_id, int) and 80_000_000_000 <= meeting_id <= 89_999_999_999
    assert meeting["host_id"] == "u-amelia" and meeting["host_email"] == "amelia@example.com"
    assert meeting["status"] == "waiting"
    assert meeting["start_time"] == "2026-12-01T23:00:00Z" and meeting["timezone"] == "Australia/Sydney"
    assert meeting["duration"] == 30 and meeting["password"] == "Ab3@-_*x9"
    assert meeting["created_at"] == "2026-11-30T22:00:00Z"
    assert meeting["join_url"].startswith(f"{emu.base_url}/j/{meeting_id}?pwd=")
    assert meeting["start_url"].startswith(f"{emu.base_url}/s/{meeting_id}?zak=")
    assert meeting["settings"]["host_video"] is True and meeting["settings"]["mute_upon_entry"] is False
    assert meeting["uuid"]

    url = f"{emu.api_base_url}/meetings/{meeting_id}"
    assert api.get(url, timeout=5).json()["topic"] == CREATE_BODY["topic"]

    patched = api.patch(url, json={"start_time": "2026-12-02T01:30:00Z", "duration": 45,
                                   "settings": {"mute_upon_entry": True}}, timeout=5)
    assert patched.status_code == 204
    assert patched.content == b""
    after = api.get(url, timeout=5).json()
    assert (after["start_time"], after["duration"]) == ("2026-12-02T01:30:00Z", 45)
    assert after["settings"]["mute_upon_entry"] is True and after["settings"]["host_video"] is True

    deleted = api.delete(url, params={"schedule_for_reminder": "false"}, timeout=5)
    assert deleted.status_code == 204
    assert deleted.content == b""
    gone = api.get(url, timeout=5)
    assert assert_zoom_error(gone, 404, 3001)["message"] == f"Meeting {meeting_id} is not found or has expired."
    assert_zoom_error(api.delete(url, params={"schedule_for_reminder": "false"}, timeout=5), 404, 3001)
    assert_zoom_error(api.patch(url, json={"duration": 60}, timeout=5), 404, 3001)
    assert_zoom_error(api.get(f"{emu.api_base_url}/meetings/not-a-number", timeout=5), 404, 3001)
    assert meeting_id in emu.state.deleted_meetings and meeting_id not in emu.state.meetings

    log = emu.calls("DELETE")
    assert [entry["query"] for entry in log] == ["schedule_for_reminder=false"] * 2
    assert log[0]["path"] == f"/v2/meetings/{meeting_id}" and log[0]["status"] == 204
    assert {entry["auth_scheme"] for entry in emu.calls(path_contains="/v2/")} == {"Bearer"}
    assert emu.calls("POST", "/meetings")[0]["json"] == CREATE_BODY
    assert api.headers["Authorization"].split()[1] not in str(emu.state.request_log)  # the scheme, not the token


def test_it_refuses_meetings_for_unknown_users(emu, api):
    assert_zoom_error(create(emu, api, user="nobody@example.com"), 404, 1001)


@pytest.mark.parametrize("password", ["abcdefghijk", "bad pass", "ab#c", "pässw", 123456])
def test_it_refuses_passcodes_zoom_refuses(emu, api, password):
    response = create(emu, api, {**CREATE_BODY, "password": password})
    assert assert_zoom_error(response, 400, 300)["message"].startswith("Invalid password")
    assert not emu.state.meetings


@pytest.mark.parametrize("change", [
    {"type": "2"}, {"type": 4}, {"type": True}, {"start_time": None}, {"start_time": "2026-12-01 23:00:00"},
    {"start_time": "2026-12-01T23:00:00+11:00"}, {"start_time": "2026-02-30T10:00:00Z"}, {"duration": 0},
    {"duration": "30"}, {"topic": "x" * 201}, {"agenda": "x" * 2001}, {"timezone": "Mars/Olympus"},
    {"settings": {"host_video": "yes"}}, {"settings": {"auto_recording": "always"}}, {"settings": []},
])
def test_it_validates_meeting_bodies_like_zoom(emu, api, change):
    body = {key: value for key, value in {**CREATE_BODY, **change}.items() if value is not None}
    assert_zoom_error(create(emu, api, body), 400, 300)


def test_it_validates_the_body_shape_and_required_start_time(emu, api):
    url = f"{emu.api_base_url}/users/u-amelia/meetings"
    assert_zoom_error(api.post(url, data="not json", headers={"Content-Type": "application/json"}, timeout=5),
                      400, 300)
    assert_zoom_error(api.post(url, json=[CREATE_BODY], timeout=5), 400, 300)
    without_start = {key: value for key, value in CREATE_BODY.items() if key != "start_time"}
    assert_zoom_error(create(emu, api, without_start), 400, 300)
    assert create(emu, api, {**without_start, "type": 1}).status_code == 201  # instant meetings start now
    assert create(emu, api, {**CREATE_BODY, "topic": "x" * 200, "agenda": "y" * 2000}).status_code == 201


def test_it_reads_local_start_times_in_the_given_or_the_users_timezone(emu, api):
    sydney = create(emu, api, {**CREATE_BODY, "start_time": "2026-12-02T10:00:00"}).json()
    assert sydney["start_time"] == "2026-12-01T23:00:00Z"
    perth = create(emu, api, {**CREATE_BODY, "start_time": "2026-12-02T07:00:00", "timezone": "Australia/Perth"})
    assert perth.json()["start_time"] == "2026-12-01T23:00:00Z" and perth.json()["timezone"] == "Australia/Perth"
    no_zone = {key: value for key, value in CREATE_BODY.items() if key != "timezone"}
    users_zone = create(emu, api, {**no_zone, "start_time": "2026-12-02T10:00:00"}).json()
    assert users_zone["start_time"] == "2026-12-01T23:00:00Z" and users_zone["timezone"] == "Australia/Sydney"


def test_it_gives_a_fresh_start_url_on_every_get(emu, api):
    meeting = create(emu, api).json()
    url = f"{emu.api_base_url}/meetings/{meeting['id']}"
    start_urls = {meeting["start_url"], api.get(url, timeout=5).json()["start_url"],
                  api.get(url, timeout=5).json()["start_url"]}
    assert len(start_urls) == 3
    assert "start_url" not in emu.state.meetings[meeting["id"]]


def test_it_serves_join_and_start_pages(emu, clock, api):
    meeting = create(emu, api).json()
    spaced = str(meeting["id"])
    spaced = f"{spaced[:3]} {spaced[3:7]} {spaced[7:]}"

    joined = requests.get(meeting["join_url"], timeout=5)
    assert joined.status_code == 200 and joined.headers["Content-Type"].startswith("text/html")
    assert f"Joined meeting {spaced} (Zoom emulator)" in joined.text
    assert requests.get(meeting["join_url"].split("?")[0], timeout=5).status_code == 403

    started = requests.get(meeting["start_url"], timeout=5)
    assert started.status_code == 200
    assert f"Started meeting {spaced} as host (Zoom emulator)" in started.text
    assert api.get(f"{emu.api_base_url}/meetings/{meeting['id']}", timeout=5).json()["status"] == "started"

    unknown = requests.get(f"{emu.base_url}/s/{meeting['id']}?zak=made-up", timeout=5)
    assert unknown.status_code == 410 and "expired" in unknown.text
    fresh = api.get(f"{emu.api_base_url}/meetings/{meeting['id']}", timeout=5).json()["start_url"]
    clock.now += timedelta(hours=2)
    assert requests.get(fresh, timeout=5).status_code == 200  # exactly 2 hours old: still valid
    clock.now += timedelta(seconds=1)
    expired = requests.get(fresh, timeout=5)
    assert expired.status_code == 410 and "expired" in expired.text

    api.headers["Authorization"] = f"Bearer {get_token(emu).json()['access_token']}"  # the first one expired
    assert api.delete(f"{emu.api_base_url}/meetings/{meeting['id']}", timeout=5).status_code == 204
    assert requests.get(meeting["join_url"], timeout=5).status_code == 404
    assert requests.get(fresh, timeout=5).status_code == 404


def test_it_changes_the_join_link_with_the_passcode(emu, api):
    meeting = create(emu, api).json()
    api.patch(f"{emu.api_base_url}/meetings/{meeting['id']}", json={"password": "N3w"}, timeout=5)
    after = api.get(f"{emu.api_base_url}/meetings/{meeting['id']}", timeout=5).json()
    assert after["password"] == "N3w" and after["join_url"] != meeting["join_url"]
    assert requests.get(meeting["join_url"], timeout=5).status_code == 403
    assert requests.get(after["join_url"], timeout=5).status_code == 200


def test_it_enforces_the_daily_create_and_update_limit_per_host_per_utc_day(emu, clock, api):
    emu.daily_limit = 3
    first = create(emu, api).json()
    assert create(emu, api).status_code == 201
    assert api.patch(f"{emu.api_base_url}/meetings/{first['id']}", json={"duration": 50}, timeout=5).status_code == 204
    limited = create(emu, api)
    assert assert_zoom_error(limited, 429, 429)["message"].startswith("You have reached the maximum daily limit")
    assert_zoom_error(api.patch(f"{emu.api_base_url}/meetings/{first['id']}", json={"duration": 55}, timeout=5),
                      429, 429)
    assert api.get(f"{emu.api_base_url}/meetings/{first['id']}", timeout=5).status_code == 200  # reads don't count
    assert create(emu, api, user="chloe@example.com").status_code == 201  # another host has their own quota
    assert emu.usage_today("amelia@example.com") == 3

    clock.now = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 00:00 UTC: a new day
    api.headers["Authorization"] = f"Bearer {get_token(emu).json()['access_token']}"
    assert create(emu, api).status_code == 201


def test_it_injects_failures(emu, api):
    emu.fail_next(503, count=2, retry_after="7", path_contains="/meetings")
    assert get_token(emu).status_code == 200  # the token endpoint is not an API path
    assert api.get(f"{emu.api_base_url}/users/u-amelia", timeout=5).status_code == 200
    for _ in range(2):
        failed = create(emu, api)
        assert failed.json() == {"code": 503, "message": "Injected failure"}
        assert failed.status_code == 503 and failed.headers["Retry-After"] == "7"
    assert create(emu, api).status_code == 201

    emu.fail_next(429, code=429, message="Too many requests", retry_after="Tue, 01 Dec 2026 00:00:00 GMT")
    limited = api.get(f"{emu.api_base_url}/users/u-amelia", timeout=5)
    assert limited.status_code == 429 and limited.json()["message"] == "Too many requests"
    assert limited.headers["Retry-After"] == "Tue, 01 Dec 2026 00:00:00 GMT"

    emu.fail_next(500, path_contains="/oauth/token")
    assert get_token(emu).status_code == 500
    emu.fail_next(502, method="DELETE")
    assert api.get(f"{emu.api_base_url}/users/u-amelia", timeout=5).status_code == 200
    meeting_id = next(iter(emu.state.meetings))
    assert "Retry-After" not in api.delete(f"{emu.api_base_url}/meetings/{meeting_id}", timeout=5).headers
    assert api.delete(f"{emu.api_base_url}/meetings/{meeting_id}", timeout=5).status_code == 204
    assert not emu.state.failures


def test_it_applies_account_locked_settings(emu, api):
    emu.lock_setting("auto_recording", "cloud")
    emu.lock_setting("join_before_host", False)
    meeting = create(emu, api).json()
    assert meeting["settings"]["auto_recording"] == "cloud"
    assert meeting["settings"]["join_before_host"] is False
    assert meeting["settings"]["host_video"] is True  # unlocked settings are as requested

    api.patch(f"{emu.api_base_url}/meetings/{meeting['id']}", json={"settings": {"auto_recording": "none"}},
              timeout=5)
    assert api.get(f"{emu.api_base_url}/meetings/{meeting['id']}", timeout=5).json()["settings"][
        "auto_recording"] == "cloud"
    emu.unlock_setting("auto_recording")
    assert create(emu, api).json()["settings"]["auto_recording"] == "none"


def test_it_forces_a_waiting_room_without_passcode_or_waiting_room(emu, api):
    no_passcode = {**CREATE_BODY, "password": "", "settings": {**CREATE_BODY["settings"], "waiting_room": False}}
    assert create(emu, api, no_passcode).json()["settings"]["waiting_room"] is True
    with_passcode = {**no_passcode, "password": "123456"}
    meeting = create(emu, api, with_passcode).json()
    assert meeting["settings"]["waiting_room"] is False
    without_field = {key: value for key, value in CREATE_BODY.items() if key != "password"}
    without_field["settings"] = {"waiting_room": False}
    assert create(emu, api, without_field).json()["settings"]["waiting_room"] is True

    api.patch(f"{emu.api_base_url}/meetings/{meeting['id']}", json={"password": ""}, timeout=5)
    after = api.get(f"{emu.api_base_url}/meetings/{meeting['id']}", timeout=5).json()
    assert after["settings"]["waiting_room"] is True and after["join_url"].endswith(str(meeting["id"]))


def test_it_ignores_unknown_fields_and_notes_them(emu, api):
    body = {**CREATE_BODY, "colour": "blue", "settings": {**CREATE_BODY["settings"], "hostvideo": True}}
    meeting = create(emu, api, body).json()
    assert "colour" not in meeting and "hostvideo" not in meeting["settings"]
    assert emu.calls("POST")[-1]["ignored_fields"] == ["colour", "settings.hostvideo"]


def test_it_is_safe_under_concurrent_requests(emu, api):
    token = api.headers["Authorization"]
    results: list[int] = []

    def worker() -> None:
        with requests.Session() as session:
            session.headers["Authorization"] = token
            for _ in range(5):
                results.append(session.post(f"{emu.api_base_url}/users/u-dev/meetings", json=CREATE_BODY,
                                            timeout=5).status_code)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [201] * 20
    assert len(emu.state.meetings) == 20 and emu.usage_today("u-dev") == 20


def test_it_resets(emu, api):
    create(emu, api)
    emu.lock_setting("waiting_room", True)
    emu.fail_next(500)
    emu.reset()
    assert not emu.state.meetings and not emu.state.locked_settings and not emu.state.failures
    assert not emu.state.request_log
    assert api.get(f"{emu.api_base_url}/users/u-amelia", timeout=5).status_code == 200  # tokens survive


def test_it_has_a_command_line(emu):
    help_text = subprocess.run([sys.executable, "-m", "devtools.zoom_emulator", "--help"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True, timeout=20, check=True).stdout
    assert "--host" in help_text and "--port" in help_text

    process = subprocess.Popen([sys.executable, "-m", "devtools.zoom_emulator", "--port", "0"], cwd=PROJECT_ROOT,
                               stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert "ZOOM_OAUTH_TOKEN_URL=http://127.0.0.1:" in line and "/v2 " in line
        token_url = line.split("ZOOM_OAUTH_TOKEN_URL=")[1].split()[0]
        response = requests.post(token_url, data={"grant_type": "account_credentials", "account_id": DEMO_ACCOUNT_ID},
                                 auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET), timeout=5)
        assert response.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=5)
        process.stdout.close()


def test_it_lists_a_hosts_upcoming_meetings_with_their_agendas_page_by_page(emu, clock, api):
    for n in range(3):
        assert create(emu, api, {**CREATE_BODY, "agenda": f"ref:{n}"}).status_code == 201
    assert create(emu, api, {**CREATE_BODY, "start_time": "2026-11-01T23:00:00Z", "agenda": "ref:past"}).ok
    assert create(emu, api, {**CREATE_BODY, "agenda": "ref:ben"}, user="ben@example.com").ok
    url = f"{emu.api_base_url}/users/amelia@example.com/meetings"

    first = api.get(url, params={"type": "upcoming", "page_size": 2}, timeout=5).json()
    second = api.get(url, params={"type": "upcoming", "page_size": 2,
                                  "next_page_token": first["next_page_token"]}, timeout=5).json()

    assert first["total_records"] == 3 and len(first["meetings"]) == 2 and first["next_page_token"]
    assert len(second["meetings"]) == 1 and second["next_page_token"] == ""
    agendas = sorted(m["agenda"] for m in first["meetings"] + second["meetings"])
    assert agendas == ["ref:0", "ref:1", "ref:2"]  # not the past one, not another host's
    assert {"id", "join_url", "start_time", "topic"} <= set(first["meetings"][0])
    assert "password" not in first["meetings"][0] and "start_url" not in first["meetings"][0]


def test_its_list_needs_a_read_scope_and_checks_parameters(emu, api):
    url = f"{emu.api_base_url}/users/amelia@example.com/meetings"
    assert_zoom_error(api.get(url, params={"page_size": 301}, timeout=5), 400, 300)
    assert_zoom_error(api.get(url, params={"next_page_token": "nope"}, timeout=5), 400, 300)
    emu.scopes = ("meeting:write:meeting:admin", "meeting:read:meeting:admin", "user:read:user:admin")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {get_token(emu).json()['access_token']}"
    body = assert_zoom_error(session.get(url, timeout=5), 400, 4711)
    assert "meeting:read:list_meetings:admin" in body["message"]


def test_it_can_apply_a_request_and_answer_too_late(emu, api):
    emu.delay_next(1.0, path_contains="/meetings", method="POST")

    with pytest.raises(requests.ReadTimeout):
        api.post(f"{emu.api_base_url}/users/amelia@example.com/meetings", json=CREATE_BODY, timeout=(2, 0.2))

    assert len(emu.state.meetings) == 1  # made, although the client never heard
    assert create(emu, api).status_code == 201  # only the next matching request was slow


def test_it_lists_the_accounts_users_in_pages(emu, api):
    emu.add_user("erin@example.com", "Erin", "Lee", 2)
    first = api.get(f"{emu.api_base_url}/users", params={"status": "active", "page_size": "3"}, timeout=5).json()
    assert first["total_records"] == 5 and len(first["users"]) == 3 and first["next_page_token"]
    second = api.get(f"{emu.api_base_url}/users", params={"page_size": "3",
                                                          "next_page_token": first["next_page_token"]},
                     timeout=5).json()
    emails = [user["email"] for user in first["users"] + second["users"]]
    assert emails == sorted(emails) and "erin@example.com" in emails and second["next_page_token"] == ""
    assert {"id", "email", "first_name", "last_name", "type", "status"} <= set(first["users"][0])
    inactive = api.get(f"{emu.api_base_url}/users", params={"status": "inactive"}, timeout=5).json()
    assert inactive["users"] == []
    assert_zoom_error(api.get(f"{emu.api_base_url}/users", params={"status": "gone"}, timeout=5), 400, 300)
    assert_zoom_error(api.get(f"{emu.api_base_url}/users", params={"page_size": "301"}, timeout=5), 400, 300)


def test_listing_users_needs_a_user_read_scope(emu):
    emu.scopes = ("user:read:user:admin",)  # reads one user, cannot list them
    token = get_token(emu).json()["access_token"]
    response = requests.get(f"{emu.api_base_url}/users", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert "user:read:list_users:admin" in assert_zoom_error(response, 400, 4711)["message"]
    emu.scopes = ("user:read:list_users:admin",)
    token = get_token(emu).json()["access_token"]
    assert requests.get(f"{emu.api_base_url}/users", headers={"Authorization": f"Bearer {token}"},
                        timeout=5).status_code == 200


def test_a_rotated_client_secret_refuses_the_old_one(emu):
    emu.rotate_client_secret("fresh-secret")
    assert get_token(emu).json()["error"] == "invalid_client"
    fresh = requests.post(emu.token_url, data={"grant_type": "account_credentials", "account_id": DEMO_ACCOUNT_ID},
                          auth=(DEMO_CLIENT_ID, "fresh-secret"), timeout=5)
    assert fresh.status_code == 200
    emu.reset()
    assert get_token(emu).status_code == 200  # reset restores the demo secret
    assert requests.post(emu.token_url, data={"grant_type": "account_credentials", "account_id": DEMO_ACCOUNT_ID},
                         auth=(DEMO_CLIENT_ID, "sécret"), timeout=5).status_code == 400  # never a crash
