"""RELIABILITY.md 25: no input gives a 500.

Every URL of the app is found by walking ``config.urls`` (the Options admin included), opened as each role, and
every form on every page (and every htmx endpoint a field posts to, and every GET parameter a view reads or a
page links with) is submitted with hostile values, one field at a time, the rest left as the page filled them in.
No response may be a 500.

The default run sends one value of each kind (about 3,500 submissions); ``FUZZ_BURST=1`` sends all of them, the
burst of more than 5,000 that issue 7 asks for (about 7,500; a few minutes on a busy 2-core machine).

Each submission runs in its own savepoint: on PostgreSQL one failed statement would otherwise abort the rest of
the run; and what one submission changed is seen by the next, as in real use.

500s that live in code another engineer owns are listed in ``ELSEWHERE`` with the owner, kept out of the burst's
verdict, and reproduced one by one in ``test_known_500_elsewhere`` (xfail, not strict) until they are fixed.
"""

import os
import re
import sys
import time
import traceback
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
from django.apps import apps
from django.db import transaction
from django.test import Client as HttpClient
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.exceptions import NoReverseMatch

from tests.conftest import PASSWORD, sydney

HOSTILE = [
    "\x00",
    "a\x00b",
    "x" * 10_000,
    "😀👩🏽‍⚕️ 🇦🇺",
    "\u202eevil.exe",
    "محمد العربي",
    "line1\r\nline2",
    "\r\nBcc: victim@example.com",
    "2147483647",
    "9999999999999999999999",
    "-1",
    "1e309",
    "²",  # str.isdigit() says yes, int() says no
    "１２",  # full-width digits: int() takes them, many checks don't expect them
    "sécret-€",
    "2027-02-30",
    "0000-00-00",
    "99999-12-31",
    "25:61",
    "24:00",
    "2027-10-03T02:30",
    "",
    " ",
    "NaN",
    "<script>alert(1)</script>",
    "%00",
    "not a phone <b>",  # an invalid phone number
    "+61 4",
    "Mars/Olympus_Mons",  # a time zone that does not exist
    "UTC+25",
]
# The default run: one value of each kind. FUZZ_BURST=1 sends all of them (the ~5,000-submission burst).
QUICK_HOSTILE = ["\x00", "x" * 10_000, "😀👩🏽‍⚕️ 🇦🇺", "\u202eevil.exe", "line1\r\nline2", "2147483647",
                 "9999999999999999999999", "1e309", "²", "sécret-€", "2027-02-30", "25:61",
                 "not a phone <b>", "Mars/Olympus_Mons"]

# GET parameters the views read directly (request.GET), by URL name; pages' own GET forms and links add theirs.
VIEW_GET_PARAMS = {
    "diary": ["date", "location", "open"],
    "diary-week": ["date", "practitioner"],
    "appointment-new": ["practitioner", "start"],
    "reminders": ["day"],
    "messages": ["status", "channel", "kind", "day", "page"],
    "credits": ["page"],
    "client-list": ["q", "page"],
}
ADMIN_CHANGELIST_PARAMS = ["q", "p", "o", "all"]

# Never submitted: they end the session or destroy the data the rest of the run needs.
SKIPPED_URL_NAMES = {"logout", "admin:logout"}
SKIPPED_URL_SUFFIXES = ("_delete",)


@dataclass(frozen=True)
class Elsewhere:
    """A 500 in code another engineer owns: where it comes from (URL name, method, field, values) and who fixes it."""

    url_name: str
    method: str
    field: str
    values: tuple[str, ...]
    owner: str


# 500s the burst found in code this test's author may not change. Matched by URL name, field and value only:
# anything else on those URLs still fails the burst. Each is reproduced, xfail, by test_known_500_elsewhere.
# (The lead fixed the one found so far, '²' in scheduling/views.py's query-string ids, in 788700c.)
ELSEWHERE: list[Elsewhere] = []


@dataclass
class Form:
    method: str
    action: str
    fields: dict[str, list[str]] = field(default_factory=dict)
    url_name: str = ""

    def key(self) -> tuple:
        return self.method, urlsplit(self.action).path, tuple(sorted(self.fields))


class _FormParser(HTMLParser):
    """Forms (with the values the page filled in), htmx endpoints of named fields, and GET parameters in links."""

    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[Form] = []
        self.htmx: list[Form] = []
        self.link_params: set[str] = set()
        self._form: Form | None = None
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen = False
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs_list: list) -> None:
        attrs = {name: value or "" for name, value in attrs_list}
        name = attrs.get("name", "")
        for hx in ("hx-get", "hx-post"):
            if attrs.get(hx) and name:
                self.htmx.append(Form(method=hx[3:], action=urljoin(self.page_url, attrs[hx]),
                                      fields={name: [attrs.get("value", "")]}))
        if tag == "a" and attrs.get("href"):
            href = urlsplit(urljoin(self.page_url, attrs["href"]))
            if href.path == urlsplit(self.page_url).path:
                self.link_params.update(key for key, _ in parse_qsl(href.query, keep_blank_values=True))
        if tag == "form":
            self._form = Form(method=(attrs.get("method") or "get").lower(),
                              action=urljoin(self.page_url, attrs.get("action") or self.page_url))
            self.forms.append(self._form)
            return
        if self._form is None or not name:
            return
        values = self._form.fields
        if tag == "input":
            kind = attrs.get("type", "text").lower()
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            values.setdefault(name, [])
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    values[name].append(attrs.get("value", "on"))
                elif kind == "radio" and not values[name]:
                    values[name].append(attrs.get("value", "on"))
            else:
                values[name].append(attrs.get("value", ""))
        elif tag == "select":
            self._select, self._select_first, self._select_chosen = name, None, False
            values.setdefault(name, [])
        elif tag == "option" and self._select:
            value = attrs.get("value", "")
            if "selected" in attrs:
                if not self._select_chosen:
                    values[self._select] = []
                self._select_chosen = True
                values[self._select].append(value)
            elif self._select_first is None and value:
                self._select_first = value
        elif tag == "textarea":
            self._textarea = name
            values[name] = [""]

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select" and self._form is not None and self._select:
            if not self._select_chosen and self._select_first is not None:
                self._form.fields[self._select] = [self._select_first]
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea and self._form is not None:
            self._form.fields[self._textarea][0] += data


# --- the URLs ----------------------------------------------------------------------------------------------------


def _patterns(resolvers=None, namespace: str = "") -> list[tuple[str, object]]:
    """(qualified URL name, pattern) for every named URL in config.urls."""
    found = []
    for entry in resolvers if resolvers is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            found += _patterns(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            found.append((namespace + entry.name, entry.pattern))
    return found


def _param_names(pattern) -> list[str]:
    converters = getattr(pattern, "converters", None)
    if converters is not None:
        return list(converters)
    return list(pattern.regex.groupindex)


def _admin_model(url_name: str):
    """The model behind an admin URL name such as admin:practice_client_change."""
    for model in apps.get_models():
        if url_name.startswith(f"admin:{model._meta.app_label}_{model._meta.model_name}_"):
            return model
    return None


def _url_kwargs(url_name: str, params: list[str], world: dict) -> dict | None:
    kwargs: dict = {}
    for param in params:
        if param == "pk":
            kwargs[param] = world["pk_for"](url_name)
        elif param == "practitioner_pk":
            kwargs[param] = world["practitioner"].pk
        elif param == "channel":
            kwargs[param] = "sms"
        elif param == "action":
            kwargs[param] = "resolve"
        elif param == "object_id":
            model = _admin_model(url_name)
            obj = model._default_manager.order_by("pk").first() if model else None
            if obj is None:
                return None
            kwargs[param] = str(obj.pk)
        elif param == "app_label":
            kwargs[param] = "practice"
        elif param in ("content_type_id",):
            return None  # the admin's "view on site" shortcut: no models here have one
        else:
            kwargs[param] = "1"
    return kwargs


def discover_urls(world: dict) -> list[tuple[str, str]]:
    urls = []
    for url_name, pattern in _patterns():
        if url_name in SKIPPED_URL_NAMES or url_name.endswith(SKIPPED_URL_SUFFIXES):
            continue
        kwargs = _url_kwargs(url_name, _param_names(pattern), world)
        if kwargs is None:
            continue
        try:
            urls.append((url_name, reverse(url_name, kwargs=kwargs)))
        except NoReverseMatch:
            continue
    return urls


# --- the burst ---------------------------------------------------------------------------------------------------


_FORMSET_ROW = re.compile(r"-(\d+)-")


@dataclass
class Failure:
    role: str
    method: str
    url: str
    url_name: str
    field: str
    value: str
    error: str

    def __str__(self) -> str:
        return (f"{self.role}: {self.method.upper()} {self.url} [{self.url_name}] {self.field}={self.value!r:.60} "
                f"→ 500 {self.error}")


@dataclass
class Burst:
    submissions: int = 0
    failures: list[Failure] = field(default_factory=list)
    forms_seen: set = field(default_factory=set)
    fields_seen: set = field(default_factory=set)


def _trace(line: str) -> None:
    """FUZZ_TRACE=1: where the time goes, past pytest's capture."""
    print(line, file=sys.__stderr__, flush=True)


def _error_line(response) -> str:
    exc_info = getattr(response, "exc_info", None)
    if not exc_info:
        return "(no exception recorded)"
    frames = traceback.extract_tb(exc_info[2])
    ours = [f for f in frames if "/.venv/" not in f.filename and "site-packages" not in f.filename]
    where = ours[-1] if ours else frames[-1]
    return f"{exc_info[0].__name__}: {str(exc_info[1])[:120]} at {where.filename}:{where.lineno}"


def _send(http: HttpClient, burst: Burst, role: str, method: str, url: str, url_name: str, data: dict,
          fuzzed: str, value: str) -> None:
    savepoint = transaction.savepoint()
    sent_at = time.monotonic()
    response = http.post(url, data) if method == "post" else http.get(url, data)
    if os.environ.get("FUZZ_TRACE") and time.monotonic() - sent_at > 1:
        _trace(f"slow: {time.monotonic() - sent_at:.1f} s {method} {url} {fuzzed}={value!r:.40}")
    burst.submissions += 1
    if response.status_code >= 500:
        transaction.savepoint_rollback(savepoint)
        burst.failures.append(Failure(role, method, url, url_name, fuzzed, value, _error_line(response)))
    else:
        transaction.savepoint_commit(savepoint)


def _admin_model_key(url_name: str) -> str:
    """admin:practice_client_add and admin:practice_client_change share their form; every changelist its params."""
    if url_name.endswith("_changelist"):
        return "admin:changelist"
    return re.sub(r"_(add|change)$", "", url_name)


def _resolve_name(url: str) -> str:
    from django.urls import resolve
    from django.urls.exceptions import Resolver404

    try:
        return resolve(urlsplit(url).path).view_name
    except Resolver404:
        return ""


def fuzz_role(http: HttpClient, user, role: str, scope: str, world: dict, values: list[str], burst: Burst) -> None:
    def login() -> None:
        if user is not None:
            http.force_login(user)

    login()
    urls = discover_urls(world) if user is not None else [("login", reverse("login")), ("health", reverse("health"))]
    if scope != "all":
        urls = [(name, url) for name, url in urls if name.startswith("admin:") == (scope == "options")]
    for url_name, url in urls:
        login()
        savepoint = transaction.savepoint()
        response = http.get(url)
        burst.submissions += 1
        if response.status_code >= 500:
            transaction.savepoint_rollback(savepoint)
            burst.failures.append(Failure(role, "get", url, url_name, "", "", _error_line(response)))
            continue
        transaction.savepoint_commit(savepoint)
        content_type = response.get("Content-Type", "")
        parser = _FormParser(f"http://testserver{url}")
        if response.status_code == 200 and content_type.startswith("text/html"):
            parser.feed(response.content.decode(errors="replace"))

        if response.status_code in (301, 302):
            continue  # not this role's page (or the login); the login form is fuzzed as the anonymous role
        get_params = set(VIEW_GET_PARAMS.get(url_name, [])) | parser.link_params
        if url_name.startswith("admin:") and url_name.endswith("_changelist"):
            get_params |= set(ADMIN_CHANGELIST_PARAMS)
        targets = [Form(method="get", action=url, fields={name: [""] for name in get_params}, url_name=url_name)]
        targets += parser.forms + parser.htmx
        for form in targets:
            if form.key() in burst.forms_seen:
                continue
            burst.forms_seen.add(form.key())
            target_name = _resolve_name(form.action)
            if not target_name or target_name in SKIPPED_URL_NAMES or target_name.endswith(SKIPPED_URL_SUFFIXES):
                continue
            baseline = {name: vals for name, vals in form.fields.items() if name != "csrfmiddlewaretoken"}
            form_started, form_count = time.monotonic(), burst.submissions
            for name in baseline:
                if (row := _FORMSET_ROW.search(name)) and row.group(1) != "0":
                    continue  # one row of an inline formset speaks for all of them
                # The same field met again through the same code (an admin model's add and change forms, the
                # admin's list parameters on every model) gets a sample of the values, not all of them.
                # So does an inline formset's row (the admin renders every row again, slowly).
                same_code = (_admin_model_key(target_name), _FORMSET_ROW.sub("-0-", name))
                in_formset = bool(row) or name.endswith("_FORMS")
                sample = values[::4] if same_code in burst.fields_seen or in_formset else values
                burst.fields_seen.add(same_code)
                login()
                for value in sample:
                    # A page's own form keeps what the page filled in; a bare GET parameter goes alone.
                    data = {name: value} if form.url_name else {**baseline, name: value}
                    _send(http, burst, role, form.method, form.action, target_name, data, name, value)
            if os.environ.get("FUZZ_TRACE"):
                _trace(f"{role} {form.method} {form.action} {len(baseline)} fields: "
                       f"{burst.submissions - form_count} in {time.monotonic() - form_started:.1f} s")


# What the burst may write; after it, every row must still pass its model's own validation (issue 8: nothing
# invalid is stored, whatever the path).
CHECKED_MODELS = [
    "practice.Practice", "practice.Location", "practice.Practitioner", "practice.WorkingHours", "practice.Client",
    "scheduling.AppointmentType", "scheduling.Appointment", "reminders.ReminderSettings", "reminders.UsualTemplate",
    "telehealth.ZoomConnection", "telehealth.PracticeZoomApp", "auth.User",
]


def invalid_rows() -> list[str]:
    from django.core.exceptions import ValidationError

    invalid = []
    for label in CHECKED_MODELS:
        for row in apps.get_model(label).objects.all():
            try:
                row.full_clean(validate_unique=False, validate_constraints=False)
            except ValidationError as exc:
                invalid.append(f"{label} {row.pk}: {exc.message_dict}")
    return invalid


def _is_elsewhere(failure: Failure) -> Elsewhere | None:
    for known in ELSEWHERE:
        if (failure.url_name, failure.method, failure.field) == (known.url_name, known.method, known.field) \
                and failure.value in known.values:
            return known
    return None


@pytest.fixture
def world(practice, front_desk, admin_user, practitioner_a, practitioner_b, location, telehealth_location,
          appointment_type, client_record, book, alice_zoom, credits, django_capture_on_commit_callbacks):
    """A practice with something on every page: appointments (one telehealth), a sent message, a Zoom connection."""
    from django.contrib.auth.models import User

    from reminders.models import Message
    from scheduling.services import appointment_book

    own = book(practitioner_a, sydney(2030, 3, 4, 9))
    other = book(practitioner_b, sydney(2030, 3, 4, 9))
    with django_capture_on_commit_callbacks(execute=True):
        telehealth = appointment_book(
            actor=front_desk, client=client_record, practitioner=practitioner_a, location=telehealth_location,
            appointment_type=appointment_type, starts_at=sydney(2030, 3, 4, 10), ends_at=None, is_telehealth=True,
        ).appointment
    telehealth.refresh_from_db()
    # Through the page, as the desk would: the service's signature is not this test's business.
    desk = HttpClient()
    desk.force_login(front_desk)
    with django_capture_on_commit_callbacks(execute=True):
        desk.post(reverse("telehealth-send", args=[telehealth.pk, "sms"]))
    message = Message.objects.order_by("-pk").first()

    def pk_for(url_name: str) -> int:
        if url_name.startswith("appointment-zoom") or url_name == "telehealth-send":
            return telehealth.pk
        if url_name.startswith("appointment-"):
            return own.pk
        if url_name.startswith("client-"):
            return client_record.pk
        if url_name == "attention-meeting":
            return telehealth.zoom_meeting_id or 1
        if url_name == "attention-message":
            return message.pk if message else 1
        return 1

    return {
        "pk_for": pk_for, "practitioner": practitioner_a, "own": own, "other": other, "telehealth": telehealth,
        "users": {"front desk": front_desk, "practitioner": practitioner_a.user, "practice admin": admin_user,
                  "superuser": User.objects.create_superuser("root", password=PASSWORD), "anonymous": None},
    }


# The burst, split so that each part stays well under a minute and xdist can spread them: (role, URLs walked, the
# least number of submissions that part must make with the full set of values; together at least 5,000).
PARTS = [
    ("front desk", "all", 1600),
    ("practitioner", "all", 1000),
    ("practice admin", "app", 2500),  # the app's own Options pages included
    ("superuser", "options", 1500),  # the stock Django admin at /django-admin/ is for superusers only
    ("anonymous", "all", 20),
]


@pytest.mark.parametrize(("role", "scope", "minimum"), PARTS, ids=[f"{r}-{s}" for r, s, _ in PARTS])
def test_a_burst_of_hostile_input_gives_no_500(world, role, scope, minimum, capsys, monkeypatch):
    values = HOSTILE if os.environ.get("FUZZ_BURST") == "1" else QUICK_HOSTILE
    # Django's test renderer records every template rendered, for assertTemplateUsed; nothing here asks.
    from django.template.base import Template
    from django.test.utils import _TestState

    monkeypatch.setattr(Template, "_render", _TestState.saved_data.template_render)
    burst = Burst()
    started = time.monotonic()
    fuzz_role(HttpClient(raise_request_exception=False), world["users"][role], role, scope, world, values, burst)
    elapsed = time.monotonic() - started
    left = [f for f in burst.failures if not _is_elsewhere(f)]
    summary = [f"fuzz {role} ({scope}): {burst.submissions} submissions in {elapsed:.1f} s, {len(burst.failures)} "
               f"500s ({len(burst.failures) - len(left)} known, owned elsewhere)"]
    summary += [f"   {failure} {f'[{known.owner}]' if (known := _is_elsewhere(failure)) else ''}"
                for failure in burst.failures]
    with capsys.disabled():
        print("\n" + summary[0])
    # FUZZ_REPORT=<file>: the figures and every 500 found, also from xdist workers (whose output is not shown).
    if report := os.environ.get("FUZZ_REPORT"):
        with open(report, "a", encoding="utf-8") as out:
            out.write("\n".join(summary) + "\n")
    assert not left, "\n".join(str(f) for f in left[:40])
    assert not (invalid := invalid_rows()), "stored although invalid:\n" + "\n".join(invalid[:40])
    if values is HOSTILE:
        assert burst.submissions >= minimum, burst.submissions


@pytest.mark.parametrize("known", [
    pytest.param(known, id=f"{known.url_name}-{known.field}",
                 marks=pytest.mark.xfail(strict=False, reason=known.owner))
    for known in ELSEWHERE
])
def test_known_500_elsewhere(world, known):
    http = HttpClient(raise_request_exception=False)
    http.force_login(world["users"]["practice admin"])
    url = reverse(known.url_name)
    for value in known.values:
        response = getattr(http, known.method)(url, {known.field: value})
        assert response.status_code < 500, f"{known.method.upper()} {url} {known.field}={value!r}"
