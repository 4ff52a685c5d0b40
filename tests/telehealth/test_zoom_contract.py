"""The requests telehealth.zoom sends, checked against Zoom's own OpenAPI schema (../shared/zoom, never copied in).

Bodies are captured with `responses` and validated with jsonschema (Draft 4, the dialect OpenAPI 3.0 schemas
extend); "$ref"s resolve against the whole spec document. Path and query values are checked against the
operation's declared parameters.
"""

import json
import re
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
import responses
from django.conf import settings as django_settings
from django.core.cache import cache
from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT4

from telehealth.zoom import ZoomClient, ZoomError
from tests.telehealth.test_zoom_client import (
    API,
    CREDENTIALS,
    MEETING_ID,
    MEETING_URL,
    TOKEN_URL,
    USER,
    add_token,
    created_meeting_json,
    meeting_json,
    meeting_request,
    user_json,
)

SPEC_URI = "urn:zoom:meetings-subset-2023-10"
CREATE = ("/users/{userId}/meetings", "post")
GET_MEETING = ("/meetings/{meetingId}", "get")
UPDATE = ("/meetings/{meetingId}", "patch")
DELETE = ("/meetings/{meetingId}", "delete")
GET_USER = ("/users/{userId}", "get")

# jsonschema only checks "date-time" when an optional RFC 3339 package is installed; check it here so a
# start_time without a zone (the classic Zoom timezone bug) fails the contract instead of passing silently.
FORMATS = FormatChecker()
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


@FORMATS.checks("date-time")
def is_rfc3339(value: object) -> bool:
    return not isinstance(value, str) or RFC3339.fullmatch(value) is not None


@pytest.fixture(scope="module")
def spec() -> dict:
    folder = Path(django_settings.BASE_DIR).parent / "shared" / "zoom"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent (CI always has it)")
    return json.loads((folder / "zoom-meetings-subset.2023-10.json").read_text())


def pointer(*segments: str) -> str:
    return "#/" + "/".join(segment.replace("~", "~0").replace("/", "~1") for segment in segments)


def validator(spec: dict, *segments: str) -> Draft4Validator:
    """A validator for the schema at that place in the spec, with every "$ref" resolved against the whole spec."""
    registry = Registry().with_resource(SPEC_URI, DRAFT4.create_resource(spec))
    return Draft4Validator({"$ref": SPEC_URI + pointer(*segments)}, registry=registry, format_checker=FORMATS)


def body_validator(spec: dict, operation: tuple[str, str]) -> Draft4Validator:
    path, method = operation
    return validator(spec, "paths", path, method, "requestBody", "content", "application/json", "schema")


def response_validator(spec: dict, operation: tuple[str, str], status: str) -> Draft4Validator:
    path, method = operation
    return validator(spec, "paths", path, method, "responses", status, "content", "application/json", "schema")


def errors(schema_validator: Draft4Validator, instance: object) -> list[str]:
    """Readable messages, each prefixed with where in the instance it failed (if not at the top)."""
    return [": ".join(filter(None, ["/".join(map(str, error.absolute_path)), error.message]))
            for error in schema_validator.iter_errors(instance)]


def parameter_problems(spec: dict, operation: tuple[str, str], url: str) -> list[str]:
    """Path and query values of a sent URL that the operation does not declare, or declares differently."""
    path, method = operation
    declared = {(param["in"], param["name"]): param for param in spec["paths"][path][method].get("parameters", [])}
    parts = urlsplit(url)
    template = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(urlsplit(API).path + path))
    match = re.fullmatch(template, parts.path)
    if match is None:
        return [f"{parts.path} does not match {path}"]
    sent = [("path", name, unquote(value)) for name, value in match.groupdict().items()]
    sent += [("query", name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True)]
    problems = [f"required {where} parameter {name} is missing" for (where, name), param in declared.items()
                if param.get("required") and (where, name) not in {(w, n) for w, n, _ in sent}]
    for where, name, raw in sent:
        param = declared.get((where, name))
        if param is None:
            problems.append(f"{where} parameter {name} is not declared")
            continue
        value = as_json_type(raw, param["schema"].get("type"))
        problems += [f"{where} parameter {name}: {error}" for error in errors(Draft4Validator(param["schema"]), value)]
    return problems


def as_json_type(raw: str, json_type: str | None) -> object:
    """URL text as the declared JSON type; text that does not convert stays text so the schema rejects it."""
    if json_type == "integer" and re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if json_type == "boolean" and raw in ("true", "false"):
        return raw == "true"
    return raw


@pytest.fixture
def zoom_http(settings):
    settings.ZOOM_API_BASE_URL = API
    settings.ZOOM_OAUTH_TOKEN_URL = TOKEN_URL
    cache.clear()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        add_token(mock)
        yield mock
    cache.clear()


def sent_request(zoom_http):
    request = zoom_http.calls[-1].request
    assert request.url != TOKEN_URL
    assert request.headers["Authorization"].startswith("Bearer ")
    return request


def test_it_sends_a_create_body_zoom_declares(spec, zoom_http):
    zoom_http.post(f"{API}/users/{USER}/meetings", status=201, json=created_meeting_json())

    ZoomClient(CREDENTIALS).create_meeting(USER, meeting_request())

    request = sent_request(zoom_http)
    assert spec["paths"][CREATE[0]][CREATE[1]]["operationId"] == "meetingCreate"
    assert request.headers["Content-Type"] in spec["paths"][CREATE[0]][CREATE[1]]["requestBody"]["content"]
    assert errors(body_validator(spec, CREATE), json.loads(request.body)) == []
    assert parameter_problems(spec, CREATE, request.url) == []


def test_it_sends_an_update_body_zoom_declares(spec, zoom_http):
    zoom_http.patch(MEETING_URL, status=204)

    ZoomClient(CREDENTIALS).update_meeting(MEETING_ID, meeting_request(duration=45))

    request = sent_request(zoom_http)
    assert spec["paths"][UPDATE[0]][UPDATE[1]]["operationId"] == "meetingUpdate"
    assert errors(body_validator(spec, UPDATE), json.loads(request.body)) == []
    assert parameter_problems(spec, UPDATE, request.url) == []


def test_it_deletes_with_declared_path_and_query_parameters(spec, zoom_http):
    zoom_http.delete(MEETING_URL, status=204)

    ZoomClient(CREDENTIALS).delete_meeting(MEETING_ID)

    request = sent_request(zoom_http)
    assert urlsplit(request.url).query == "schedule_for_reminder=false"
    assert parameter_problems(spec, DELETE, request.url) == []


def test_it_reads_meetings_and_users_with_declared_parameters(spec, zoom_http):
    zoom_http.get(MEETING_URL, json=meeting_json())
    zoom_http.get(f"{API}/users/{USER}", json=user_json())
    client = ZoomClient(CREDENTIALS)

    client.get_meeting(MEETING_ID)
    client.get_user(USER)

    meeting_call, user_call = (call.request for call in zoom_http.calls[1:])
    assert parameter_problems(spec, GET_MEETING, meeting_call.url) == []
    assert parameter_problems(spec, GET_USER, user_call.url) == []


def test_it_tests_the_client_with_answers_shaped_like_zooms(spec):
    """The canned answers the client tests rely on are valid by Zoom's response schemas too."""
    assert errors(response_validator(spec, CREATE, "201"), created_meeting_json()) == []
    assert errors(response_validator(spec, GET_MEETING, "200"), meeting_json()) == []
    assert errors(response_validator(spec, GET_USER, "200"), user_json()) == []


# Negative controls: the checks above can fail -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"type": "two"}, "'two' is not of type 'integer'"),
        ({"password": "Ab3dE5gH9k1"}, "is too long"),  # the schema's maxLength is 10
        ({"start_time": "2026-12-02T10:00:00"}, "is not a 'date-time'"),  # local time without a zone
        ({"topic": "x" * 201}, "is too long"),
        ({"settings": {"auto_recording": "off"}}, "'off' is not one of"),
    ],
)
@pytest.mark.parametrize("operation", [CREATE, UPDATE])
def test_it_rejects_bodies_that_break_the_schema(spec, operation, change, complaint):
    body = {**meeting_request().body(), **change}

    found = errors(body_validator(spec, operation), body)

    assert any(complaint in error for error in found), found


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        (f"{MEETING_URL}?schedule_for_reminder=nope", "'nope' is not of type 'boolean'"),
        (f"{MEETING_URL}?notify=false", "query parameter notify is not declared"),
        (f"{API}/meetings/abc", "path parameter meetingId: 'abc' is not of type 'integer'"),
        (f"{API}/meetings", "does not match"),
    ],
)
def test_it_rejects_parameters_that_break_the_schema(spec, url, complaint):
    found = parameter_problems(spec, DELETE, url)

    assert len(found) == 1
    assert complaint in found[0]


# The list call (adopting an unconfirmed create) is only in Zoom's full schema file ------------------------------

LIST = ("/users/{userId}/meetings", "get")


@pytest.fixture(scope="module")
def full_spec() -> dict:
    path = Path(django_settings.BASE_DIR).parent / "shared" / "zoom" / "ZoomMeetingAPISpec.2023-10.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent (CI always has it)")
    return json.loads(path.read_text())


def listed_page(*meetings: dict, next_page_token: str = "") -> dict:
    return {"page_size": 300, "total_records": len(meetings), "next_page_token": next_page_token,
            "meetings": list(meetings)}


def listed(meeting_id: int, agenda: str) -> dict:
    return {"uuid": "aDYlohsHRtCd4ii1uC2+hA==", "id": meeting_id, "host_id": "z8yAAAAA8bbbQ",
            "topic": "Telehealth appointment - Test Practice", "type": 2, "start_time": "2026-12-01T23:00:00Z",
            "duration": 30, "timezone": "Australia/Sydney", "agenda": agenda, "created_at": "2026-11-20T01:02:03Z",
            "join_url": f"https://zoom.test/j/{meeting_id}"}


def test_it_lists_a_hosts_meetings_with_declared_parameters_on_every_page(full_spec, zoom_http):
    url = f"{API}/users/{USER}/meetings"
    zoom_http.get(url, json=listed_page(listed(1, "ref:other"), next_page_token="page-2-token"))
    zoom_http.get(url, json=listed_page(listed(MEETING_ID, "ref:abc123")))

    found = ZoomClient(CREDENTIALS).find_meeting_by_agenda(USER, "ref:abc123")

    assert found is not None and found.id == MEETING_ID
    first, second = (call.request for call in zoom_http.calls[1:])
    assert full_spec["paths"][LIST[0]][LIST[1]]["operationId"] == "meetings"
    assert parameter_problems(full_spec, LIST, first.url) == []
    assert parameter_problems(full_spec, LIST, second.url) == []
    assert "type=upcoming" in first.url and "page_size=300" in first.url
    assert "next_page_token=page-2-token" in second.url


def test_the_canned_list_answer_is_shaped_like_zooms(full_spec):
    assert errors(response_validator(full_spec, LIST, "200"), listed_page(listed(MEETING_ID, "ref:x"))) == []


def test_it_sends_the_reference_as_an_agenda_zoom_declares(spec, zoom_http):
    zoom_http.post(f"{API}/users/{USER}/meetings", status=201, json=created_meeting_json())

    ZoomClient(CREDENTIALS).create_meeting(USER, meeting_request(agenda="ref:0123456789abcdef"))

    body = json.loads(sent_request(zoom_http).body)
    assert body["agenda"] == "ref:0123456789abcdef"
    assert errors(body_validator(spec, CREATE), body) == []


# Listing the account's users (picking a practitioner's Zoom user from the practice's app) ----------------------

USERS = ("/users", "get")


def users_page(*users: dict, next_page_token: str = "") -> dict:
    return {"page_count": 1, "page_number": 1, "page_size": 300, "total_records": len(users),
            "next_page_token": next_page_token, "users": list(users)}


def test_it_lists_the_accounts_active_users_with_declared_parameters_on_every_page(full_spec, zoom_http):
    url = f"{API}/users"
    zoom_http.get(url, json=users_page(user_json(), next_page_token="users-2"))
    zoom_http.get(url, json=users_page(user_json(id="z9", email="bob@example.com", type=1),
                                       {"email": "pending@example.com", "type": 1, "status": "pending"}))

    users = ZoomClient(CREDENTIALS).list_users()

    assert [(user.email, user.plan) for user in users] == [(USER, "Licensed"), ("bob@example.com", "Basic")]
    first, second = (call.request for call in zoom_http.calls[1:])
    assert full_spec["paths"][USERS[0]][USERS[1]]["operationId"] == "users"
    assert "user:read:admin" in full_spec["paths"][USERS[0]][USERS[1]]["security"][0]["openapi_oauth"]
    assert parameter_problems(full_spec, USERS, first.url) == []
    assert parameter_problems(full_spec, USERS, second.url) == []
    assert "status=active" in first.url and "page_size=300" in first.url
    assert "next_page_token=users-2" in second.url


def test_the_canned_users_answer_and_the_emulators_are_shaped_like_zooms(full_spec, zoom):
    import requests

    assert errors(response_validator(full_spec, USERS, "200"), users_page(user_json())) == []
    token = requests.post(zoom.token_url, data={"grant_type": "account_credentials", "account_id": "demo-account"},
                          auth=("demo-client", "demo-secret"), timeout=5).json()["access_token"]
    answer = requests.get(f"{zoom.api_base_url}/users", params={"status": "active", "page_size": "300"},
                          headers={"Authorization": f"Bearer {token}"}, timeout=5).json()
    assert answer["users"] and errors(response_validator(full_spec, USERS, "200"), answer) == []


def test_a_user_list_zoom_cannot_mean_is_an_error_not_a_crash(zoom_http):
    zoom_http.get(f"{API}/users", json={"users": "nope"})
    with pytest.raises(ZoomError, match="user list"):
        ZoomClient(CREDENTIALS).list_users()
