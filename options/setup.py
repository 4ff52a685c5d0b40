"""First-run setup (issue 8): what a new practice still has to configure before the first booking.

Read from every app, so it lives in options, which nothing imports. Each step links to its Options page;
Zoom and SMS are optional for taking bookings, so they never hold the checklist open.
"""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.urls import NoReverseMatch, reverse

from practice import roles
from practice.models import Location, Practice, WorkingHours
from reminders.services import credits_balance
from scheduling.models import AppointmentType
from telehealth.models import ConnectionStatus, ZoomConnection

DEFAULT_PRACTICE_NAME = Practice._meta.get_field("name").get_default()


@dataclass(frozen=True)
class Step:
    title: str
    done: bool
    detail: str
    url_name: str
    required: bool = True

    @property
    def url(self) -> str:
        try:
            return reverse(self.url_name)
        except NoReverseMatch:  # the page is not there yet
            return ""


def _sms_detail(balance: int) -> str:
    if settings.SMS_BACKEND.rsplit(".", 1)[-1].lower() == "twilio":
        provider_text = "SMS go through Twilio."
    else:
        provider_text = "SMS are not sent to clients yet: the server is not set up with Twilio (SMS_BACKEND)."
    return f"{balance} SMS credits. {provider_text}"


def setup_steps() -> list[Step]:
    practice = Practice.objects.filter(pk=1).first()
    named = practice is not None and practice.name != DEFAULT_PRACTICE_NAME
    balance = credits_balance()
    return [
        Step("Practice details", named, "Name, phone, email, address, time zone and opening hours.",
             "options-practice"),
        Step("A location", Location.objects.filter(is_active=True).exists(),
             "Where appointments happen (mark one Telehealth for video consultations).", "options-locations"),
        Step("A practitioner with working hours",
             WorkingHours.objects.filter(practitioner__is_active=True).exists(),
             "Each practitioner's shifts make their column in the diary.", "options-practitioners"),
        Step("An appointment type", AppointmentType.objects.filter(is_active=True).exists(),
             "Names and usual durations, e.g. “Initial consultation, 60 minutes”.", "options-appointment-types"),
        Step("A front-desk user",
             User.objects.filter(is_active=True, groups__name=roles.FRONT_DESK).exists(),
             "Who books appointments for everyone.", "options-users"),
        Step("Zoom for telehealth",
             ZoomConnection.objects.filter(status=ConnectionStatus.CONNECTED).exists(),
             "Optional: connect each practitioner who runs telehealth.", "zoom-connections", required=False),
        Step("SMS", balance > 0, _sms_detail(balance), "credits", required=False),
    ]


def setup_complete() -> bool:
    return all(step.done for step in setup_steps() if step.required)

