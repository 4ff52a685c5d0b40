from collections.abc import Callable

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from attention import selectors
from practice import roles
from practice.errors import ApplicationError
from practice.http import AuthedRequest, role_required
from reminders import inbound as reminder_inbound
from reminders import services as reminder_services
from reminders.models import InboundMessage, InboundOutcome, Message, ScheduledReminder
from scheduling import services as scheduling_services
from scheduling.models import Appointment
from telehealth import services as telehealth_services
from telehealth.models import OrphanSweep, ZoomMeeting

desk_or_admin = role_required(roles.can_manage_all_appointments)


def _try_again(*, actor, meeting: ZoomMeeting) -> None:
    """A failed create is retried on its appointment, which plans a new meeting (and adopts one Zoom made)."""
    appointment = get_object_or_404(Appointment, zoom_meeting=meeting)
    scheduling_services.appointment_telehealth_add(actor=actor, appointment=appointment)


# Each item's actions: the service that does it (keyword arguments actor= and the row) and what to say after.
MEETING_ACTIONS: dict[str, tuple[Callable, str]] = {
    "retry": (lambda actor, row: telehealth_services.meeting_retry_now(actor=actor, meeting=row),
              "Trying Zoom again now."),
    "resolve": (lambda actor, row: telehealth_services.meeting_mark_resolved(actor=actor, meeting=row),
                "Marked resolved."),
    "try-again": (lambda actor, row: _try_again(actor=actor, meeting=row), "The Zoom meeting is being created."),
    "restore": (lambda actor, row: telehealth_services.meeting_restore(actor=actor, meeting=row),
                "The Zoom meeting was restored to the appointment's time and settings."),
}
MESSAGE_ACTIONS: dict[str, tuple[Callable, str]] = {
    "sent": (lambda actor, row: reminder_services.message_mark_sent(actor=actor, message=row), "Marked as sent."),
    "not-sent": (lambda actor, row: reminder_services.message_mark_not_sent(actor=actor, message=row),
                 "Marked as not sent."),
    "send-again": (lambda actor, row: reminder_services.message_send_again(actor=actor, message=row),
                   "Sending again."),
}
REMINDER_ACTIONS: dict[str, tuple[Callable, str]] = {
    "send": (lambda actor, row: reminder_services.scheduled_reminder_send_now(actor=actor, reminder=row),
             "Sending the reminder now."),
    "dismiss": (lambda actor, row: reminder_services.scheduled_reminder_dismiss(actor=actor, reminder=row),
                "Dismissed."),
}

APPOINTMENT_ACTIONS: dict[str, tuple[Callable, str]] = {
    "seen": (lambda actor, row: scheduling_services.client_cancel_acknowledge(actor=actor, appointment=row),
             "Marked seen."),
}
SMS_REQUEST_ACTIONS: dict[str, tuple[Callable, str]] = {
    "keep": (lambda actor, row: reminder_inbound.inbound_mark_handled(actor=actor, inbound=row,
                                                                      note="Kept the appointment"),
             "The appointment stays booked."),
}


@require_GET
@desk_or_admin
def needs_attention(request: AuthedRequest) -> HttpResponse:
    return render(request, "attention/needs_attention.html", {"items": selectors.attention_items()})


def _act(request: AuthedRequest, model, pk: int, actions: dict[str, tuple[Callable, str]],
         action: str) -> HttpResponse:
    if action not in actions:
        raise Http404("No such action.")
    row = get_object_or_404(model, pk=pk)
    service, done_message = actions[action]
    try:
        service(request.user, row)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done_message)
    return redirect(reverse("needs-attention"))


@require_POST
@desk_or_admin
def meeting_action(request: AuthedRequest, pk: int, action: str) -> HttpResponse:
    return _act(request, ZoomMeeting, pk, MEETING_ACTIONS, action)


@require_POST
@desk_or_admin
def message_action(request: AuthedRequest, pk: int, action: str) -> HttpResponse:
    return _act(request, Message, pk, MESSAGE_ACTIONS, action)


@require_POST
@desk_or_admin
def reminder_action(request: AuthedRequest, pk: int, action: str) -> HttpResponse:
    return _act(request, ScheduledReminder, pk, REMINDER_ACTIONS, action)


@require_POST
@desk_or_admin
def orphan_sweep_dismiss(request: AuthedRequest, pk: int) -> HttpResponse:
    sweep = get_object_or_404(OrphanSweep, pk=pk)
    telehealth_services.orphan_sweep_dismiss(actor=request.user, sweep=sweep)
    messages.success(request, "Dismissed.")
    return redirect(reverse("needs-attention"))


@require_POST
@desk_or_admin
def appointment_action(request: AuthedRequest, pk: int, action: str) -> HttpResponse:
    return _act(request, Appointment, pk, APPOINTMENT_ACTIONS, action)


@require_POST
@desk_or_admin
def sms_request_action(request: AuthedRequest, pk: int, action: str) -> HttpResponse:
    if action not in SMS_REQUEST_ACTIONS:
        raise Http404("No such action.")
    get_object_or_404(InboundMessage, pk=pk, outcome=InboundOutcome.CANCEL_REQUEST)
    return _act(request, InboundMessage, pk, SMS_REQUEST_ACTIONS, action)
