"""The fixed telehealth SMS, email and calendar file (R11-R13, R18; RELIABILITY 21-22)."""

import dataclasses
import itertools
import random
import string
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from reminders.fixed import TelehealthDetails, format_meeting_id, telehealth_email, telehealth_ics, telehealth_sms
from reminders.segments import sms_segments

SYDNEY = ZoneInfo("Australia/Sydney")
JOIN_URL = "https://us02web.zoom.us/j/85343217788?pwd=aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE"
URL_SAFE = string.ascii_letters + string.digits + "-._"
PASSCODE_CHARS = string.ascii_letters + string.digits + "@-_*"


def details(**changes) -> TelehealthDetails:
    starts_at = datetime(2026, 11, 30, 10, 0, tzinfo=SYDNEY)
    base = TelehealthDetails(
        practice_name="Harbourside Allied Health", practice_phone="02 9000 1234",
        practice_email="hello@harbourside.example", client_first_name="Olivia", practitioner_name="Amelia Nguyen",
        starts_at=starts_at, ends_at=starts_at + timedelta(minutes=50), time_zone="Australia/Sydney",
        join_url=JOIN_URL, meeting_id=85343217788, passcode="ab12CD34ef", topic="Telehealth appointment",
        uid="appointment-17-meeting-85343217788@practice",
    )
    return dataclasses.replace(base, **changes)


def long_url(length: int, *, alphabet: str = "a") -> str:
    head = "https://us02web.zoom.us/j/85343217788?pwd="
    return head + (alphabet * length)[: length - len(head)]


def assert_two_credit_sms(message: str, d: TelehealthDetails) -> None:
    info = sms_segments(message)
    assert info.encoding == "GSM-7", message
    assert info.segments <= 2, (info, message)
    assert d.join_url in message.split()  # whole, unaltered, delimited by whitespace
    assert format_meeting_id(d.meeting_id) in message
    if d.passcode:
        assert f"Passcode: {d.passcode}\n" in message + "\n"


# --- format_meeting_id ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("meeting_id", "expected"),
    [(85343217788, "853 4321 7788"), (1234567890, "123 456 7890"), (123456789, "123456789"), (12, "12"),
     (123456789012, "123456789012")],
)
def test_it_formats_meeting_ids_like_zoom(meeting_id, expected):
    assert format_meeting_id(meeting_id) == expected


# --- SMS ---------------------------------------------------------------------------------------------------------


def test_it_writes_a_readable_sms_for_the_typical_case():
    message = telehealth_sms(details())
    assert message == (
        "Hi Olivia, your telehealth appointment with Amelia Nguyen at Harbourside Allied Health is "
        "Mon 30 Nov 10:00 AEDT.\n"
        f"Join on Zoom: {JOIN_URL}\n"
        "Meeting ID: 853 4321 7788\n"
        "Passcode: ab12CD34ef"
    )
    assert_two_credit_sms(message, details())


def test_it_gives_the_time_in_the_practice_zone_across_dst():
    winter = datetime(2026, 6, 1, 0, 30, tzinfo=UTC)  # 10:30 AEST
    message = telehealth_sms(details(starts_at=winter, ends_at=winter + timedelta(minutes=30)))
    assert "Mon 1 Jun 10:30 AEST." in message


def test_it_never_names_the_clients_surname_in_an_sms():
    message = telehealth_sms(details(client_first_name="Olivia Papadopoulos"))
    assert message.startswith("Hi Olivia, ")
    assert "Papadopoulos" not in message


def test_it_carries_no_clinical_details_or_topic():
    message = telehealth_sms(details(topic="Knee rehab review (ACL)"))
    for word in ("Knee", "rehab", "ACL"):
        assert word not in message


@pytest.mark.parametrize(
    ("first", "greeting"),
    [("Zoë", "Hi Zoe, "), ("José", "Hi José, "), ("Nguyễn", "Hi Nguyen, "), ("李小龙", "Hi, "), ("🙂", "Hi, "),
     ("  Mary\nAnne ", "Hi Mary, "), ("", "Hi, ")],
)
def test_it_transliterates_or_omits_the_first_name(first, greeting):
    message = telehealth_sms(details(client_first_name=first))
    assert message.startswith(greeting + "your telehealth appointment")
    assert_two_credit_sms(message, details(client_first_name=first))


def test_it_keeps_non_latin_names_out_of_ucs2():
    d = details(practitioner_name="Dr 王芳 Nguyễn", practice_name="Clinique Zoë – “Santé”")
    message = telehealth_sms(d)
    assert "with Dr Nguyen at Clinique Zoe - \"Santé\" is" in message
    assert_two_credit_sms(message, d)


LONGEST_NAMES = {
    "ascii": "Bartholomew " * 10,
    "accented": "Zoë Nguyễn Ørjan Françoise " * 5,
    "cjk": "李小龙" * 40,
    "emoji": "🙂👩‍⚕️" * 30,
    "extension": "{[€]}|" * 20,
    "one word": "A" * 120,
}


@pytest.mark.parametrize(
    ("first", "practitioner", "practice"),
    list(itertools.product(LONGEST_NAMES.values(), repeat=3)),
)
@pytest.mark.parametrize("url_length", [80, 200])
def test_it_fits_the_longest_valid_input_in_two_gsm7_segments(first, practitioner, practice, url_length):
    d = details(client_first_name=first[:120], practitioner_name=practitioner[:120], practice_name=practice[:120],
                join_url=long_url(url_length), meeting_id=99999999999, passcode="a@-_*Z9b8c")
    message = telehealth_sms(d)
    assert_two_credit_sms(message, d)
    assert "Mon 30 Nov 10:00 AEDT" in message


def test_it_shortens_names_before_dropping_them():
    d = details(practitioner_name="Professor Bartholomew Wolfeschlegelsteinhausen Featherstonehaugh-Cholmondeley",
                practice_name="The Greater Metropolitan Harbourside Allied Health, Physiotherapy and Wellbeing Centre",
                join_url=long_url(120))
    message = telehealth_sms(d)
    assert_two_credit_sms(message, d)
    assert message.startswith("Hi Olivia, your telehealth appointment with Professor")
    assert " at The Greater " in message
    practitioner = message.split(" with ", 1)[1].split(" at ", 1)[0]
    practice = message.split(" at ", 1)[1].split(" is Mon", 1)[0]
    assert (practitioner, practice) == ("Professor Bartholomew", "The Greater Metropolitan")  # whole words
    assert "…" not in message


def test_it_accepts_a_200_character_link_with_the_longest_id_and_passcode():
    d = details(join_url=long_url(200), meeting_id=98765432101, passcode="*@-_aZ09xy",
                client_first_name="W" * 120, practitioner_name="W" * 120, practice_name="W" * 120)
    message = telehealth_sms(d)
    assert len(d.join_url) == 200
    assert_two_credit_sms(message, d)
    assert sms_segments(message).units <= 306


def test_it_keeps_extension_characters_in_the_link_unaltered():
    d = details(join_url=long_url(190) + "~" * 10)  # 200 characters, 210 septets
    message = telehealth_sms(d)
    assert_two_credit_sms(message, d)


def test_it_refuses_a_link_too_long_for_two_segments():
    with pytest.raises(ValueError, match="too long"):
        telehealth_sms(details(join_url=long_url(250)))


@pytest.mark.parametrize(
    "change",
    [{"join_url": ""}, {"join_url": "https://zoom.us/j/1 2"}, {"join_url": "https://zoom.us/j/1?p=é"},
     {"join_url": "https://zoom.us/j/1?p=`"}, {"passcode": "ab cd"}, {"passcode": "pässcode"}, {"meeting_id": 0},
     {"starts_at": datetime(2026, 11, 30, 10, 0)}],
)
def test_it_refuses_what_it_could_not_send_unaltered(change):
    with pytest.raises(ValueError):
        telehealth_sms(details(**change))


def test_it_leaves_out_an_empty_passcode():
    message = telehealth_sms(details(passcode=""))
    assert "Passcode" not in message
    assert message.endswith("Meeting ID: 853 4321 7788")


def random_name(rng: random.Random) -> str:
    pools = [string.ascii_letters + " -'", "ÀÉÎÕÜàéîõüçñøåæßễỹởữăđłœ ", "李小龙王芳陈静", "🙂👩‍⚕️🇦🇺",
             "{}[]~|^\\€", " \n\t"]
    length = rng.randint(0, 120)
    return "".join(rng.choice(rng.choice(pools)) for _ in range(length))


def test_it_always_fits_random_valid_input_in_two_gsm7_segments():
    rng = random.Random(20261130)
    worst = 0
    for _ in range(300):
        url = "https://" + "".join(rng.choice(URL_SAFE) for _ in range(rng.randint(10, 192)))
        starts_at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=15 * rng.randint(0, 35_000))
        d = details(
            client_first_name=random_name(rng), practitioner_name=random_name(rng), practice_name=random_name(rng),
            join_url=url, meeting_id=rng.randint(10**8, 10**11 - 1),
            passcode="".join(rng.choice(PASSCODE_CHARS) for _ in range(rng.randint(0, 10))),
            starts_at=starts_at, ends_at=starts_at + timedelta(minutes=rng.choice([15, 30, 60])),
            time_zone=rng.choice(["Australia/Sydney", "Australia/Perth", "Australia/Adelaide", "Pacific/Auckland"]),
        )
        message = telehealth_sms(d)
        assert_two_credit_sms(message, d)
        worst = max(worst, sms_segments(message).units)
    assert worst <= 306


# --- email -------------------------------------------------------------------------------------------------------


def test_it_writes_the_email_with_the_link_id_passcode_and_how_to_join():
    subject, text, html = telehealth_email(details())
    assert subject == "Your telehealth appointment on Mon 30 Nov at 10:00 – Harbourside Allied Health"
    for body in (text, html):
        assert JOIN_URL in body
        assert "853 4321 7788" in body
        assert "ab12CD34ef" in body
        assert "Amelia Nguyen" in body
        assert "Monday 30 November 2026, 10:00 to 10:50 AEDT (Sydney time)" in body
        assert "You do not need a Zoom account." in body  # R18
        assert "opens the Zoom app" in body and "web browser" in body
        assert "install the free Zoom app" in body and "tap the link again" in body
        assert "02 9000 1234" in body and "hello@harbourside.example" in body
    assert text.startswith("Hi Olivia,\n")
    assert f'<a href="{JOIN_URL}"' in html


def test_it_leaves_clinical_details_out_of_the_email():
    subject, text, html = telehealth_email(details(topic="Knee rehab review (ACL)"))
    for body in (subject, text, html):
        assert "rehab" not in body


def test_it_escapes_every_inserted_value_in_the_html():
    d = details(client_first_name="<b>Zo&ë</b>", practitioner_name='Amelia "<i>" Nguyen',
                practice_name="Tom & Jerry's <Clinic>", practice_email="a&b@example.com",
                join_url="https://zoom.us/j/1?pwd=a&x=<y>", passcode="a<b>")
    subject, text, html = telehealth_email(d)
    assert "&lt;b&gt;Zo&amp;ë&lt;/b&gt;" in html
    assert "<b>" not in html and "<i>" not in html and "<Clinic>" not in html and "<y>" not in html
    assert "Tom &amp; Jerry&#x27;s &lt;Clinic&gt;" in html
    assert 'href="https://zoom.us/j/1?pwd=a&amp;x=&lt;y&gt;"' in html
    assert "a&lt;b&gt;" in html
    assert "Hi <b>Zo&ë</b>," in text  # the plain text part is not HTML


def test_it_keeps_the_subject_on_one_line():
    subject, _text, _html = telehealth_email(details(practice_name="Harbourside\nBcc: someone@example.com"))
    assert "\n" not in subject and "\r" not in subject


def test_it_names_the_zone_when_it_has_no_abbreviation():
    _subject, text, _html = telehealth_email(details(time_zone="Asia/Dubai"))
    assert "Monday 30 November 2026, 03:00 to 03:50 (Dubai time)" in text


# --- calendar file -----------------------------------------------------------------------------------------------


def test_it_writes_a_calendar_file_that_parses_back():
    stamp = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    calendar = Calendar.from_ical(telehealth_ics(details(), dtstamp=stamp))
    assert str(calendar["method"]) == "PUBLISH"
    assert str(calendar["version"]) == "2.0"
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    event = events[0]
    assert event.decoded("dtstart") == datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
    assert event.decoded("dtend") == datetime(2026, 11, 29, 23, 50, tzinfo=UTC)
    assert event.decoded("dtstamp") == stamp
    assert str(event["uid"]) == "appointment-17-meeting-85343217788@practice"
    assert str(event["url"]) == JOIN_URL
    assert str(event["location"]) == JOIN_URL
    assert str(event["summary"]) == "Telehealth appointment with Amelia Nguyen"
    description = str(event["description"])
    assert JOIN_URL in description
    assert "Meeting ID: 853 4321 7788" in description
    assert "Passcode: ab12CD34ef" in description
    assert "You do not need a Zoom account." in description
    assert "Olivia" not in telehealth_ics(details()).decode()


def test_it_keeps_the_calendar_file_valid_with_awkward_values():
    d = details(practitioner_name="Amelia; Nguyen, PhD\n", join_url="https://zoom.us/j/1?pwd=a;b,c",
                uid="appointment-1-meeting-2@practice")
    event = Calendar.from_ical(telehealth_ics(d)).walk("VEVENT")[0]
    assert str(event["location"]) == "https://zoom.us/j/1?pwd=a;b,c"
    assert str(event["summary"]) == "Telehealth appointment with Amelia; Nguyen, PhD"
    with pytest.raises(ValueError):
        telehealth_ics(details(uid="has space@practice"))
