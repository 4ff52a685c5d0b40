from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from attention import selectors
from practice import roles
from practice.errors import ApplicationError
from practice.http import AuthedRequest, role_required
from reminders import services as reminder_services
from reminders.models import Message, ScheduledReminder
from scheduling import services as scheduling_services
from scheduling.models import Appointment
from telehealth import services as telehealth_services
from telehealth.models import ZoomMeeting

desk_or_admin = role_required(roles.can_manage_all_appointments)


@require_GET
@desk_or_admin
def needs_attention(request: AuthedRequest) -> HttpResponse:
    return render(request, "attention/needs_attention.html", {"items": selectors.attention_items()})


def _run(request: AuthedRequest, service, done_message: str) -> HttpResponse:
    try:
        service()
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done_message)
    return redirect(reverse("needs-attention"))


@require_POST
@desk_or_admin
def meeting_action(request: AuthedRequest, pk: int, action: str) -> HttpResponse:
    meeting = get_object_or_404(ZoomMeeting, pk=pk)
    user = request.user
    if action == "retry":
        return _run(request, lambda: telehealth_services.meeting_retry_now(actor=user, meeting=meeting),
                    "Trying Zoom again now.")
    if action == "resolve":
        return _run(request, lambda: telehealth_services.meeting_mark_resolved(actor=user, meeting=meeting),
                    "Marked resolved.")
    if action == "try-again":
        appointment = get_object_or_404(Appointment, zoom_meeting=meeting)
        return _run(request, lambda: scheduling_services.appointment_telehealth_add(actor=user,
                                                                                   appointment=appointment),
                    "The Zoom meeting is being created.")
    raise Http404("No such action.")


@require_POST
@desk_or_admin
def message_action(request: AuthedRequest, pk: int, action: str) -> HttpResponse:
    message = get_object_or_404(Message, pk=pk)
    user = request.user
    if action == "sent":
        return _run(request, lambda: reminder_services.message_mark_sent(actor=user, message=message),
                    "Marked as sent.")
    if action == "not-sent":
        return _run(request, lambda: reminder_services.message_mark_not_sent(actor=user, message=message),
                    "Marked as not sent.")
    if action == "send-again":
        return _run(request, lambda: reminder_services.message_send_again(actor=user, message=message),
                    "Sending again.")
    raise Http404("No such action.")


@require_POST
@desk_or_admin
def reminder_action(request: AuthedRequest, pk: int, action: str) -> HttpResponse:
    reminder = get_object_or_404(ScheduledReminder, pk=pk)
    user = request.user
    if action == "send":
        return _run(request, lambda: reminder_services.scheduled_reminder_send_now(actor=user, reminder=reminder),
                    "Sending the reminder now.")
    if action == "dismiss":
        return _run(request, lambda: reminder_services.scheduled_reminder_dismiss(actor=user, reminder=reminder),
                    "Dismissed.")
    raise Http404("No such action.")
