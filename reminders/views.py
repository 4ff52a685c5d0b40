import secrets
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from practice import roles
from practice.errors import ApplicationError
from practice.http import AuthedRequest, done, role_required
from practice.phones import mobile_display
from practice.timezones import parse_day
from reminders import dev, inbound, segments, selectors, services, usual
from reminders.forms import BulkForm, CreditPurchaseForm, MessageFilterForm, ReminderSettingsForm, UsualTemplateForm
from reminders.models import Channel, InboundMessage, Message, MessageStatus, ReminderSettings, ScheduledReminder
from reminders.sms import twilio_signature_is_valid
from scheduling import services as scheduling_services
from scheduling.models import Appointment
from scheduling.selectors import appointment_for_change, diary_url

desk_or_admin = role_required(roles.can_manage_all_appointments)


def _int_or_none(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if 0 < number < 2**63 else None


def _back_to_appointment(request: AuthedRequest, appointment: Appointment) -> HttpResponse:
    if not request.headers.get("HX-Request"):
        return done(request, reverse("appointment-detail", args=[appointment.pk]))
    # Back to the day with this appointment's panel open again, showing the message log.
    return done(request, diary_url(timezone.localtime(appointment.starts_at).date(), open=appointment.pk))


@require_POST
def telehealth_send(request: AuthedRequest, pk: int, channel: str) -> HttpResponse:
    """Send the fixed telehealth details for one appointment (R11); never in bulk (R13).

    Once per meeting and channel; ``send_again`` (the confirm box, carrying the pk of the message the person
    saw) sends it again.
    """
    appointment = appointment_for_change(request.user, pk)
    if channel not in Channel.values:
        return HttpResponse(status=404)
    try:
        message = services.telehealth_details_send(actor=request.user, appointment=appointment, channel=channel,
                                                   again_after=_int_or_none(request.POST.get("send_again")))
    except ApplicationError as exc:
        (messages.warning if exc.code == "already_sent" else messages.error)(request, exc.message)
    else:
        message.refresh_from_db()  # sending ran after the commit
        what = "SMS (2 credits)" if channel == Channel.SMS else "email"
        # A mobile is shown as everywhere else on screen ("0412 345 678"), not as stored.
        recipient = mobile_display(message.recipient) if channel == Channel.SMS else message.recipient
        said = f"Zoom details {what} to {recipient}: {message.get_status_display()}."
        # A send that failed, or whose fate is unknown, is no success: it waits in Needs attention (RELIABILITY.md).
        if message.status == MessageStatus.FAILED:
            messages.error(request, f"{said} {message.error} Needs attention lists it, with Send again.")
        elif message.status == MessageStatus.UNKNOWN:
            messages.warning(request, f"{said} {message.error} Needs attention lists it.")
        else:
            messages.success(request, said)
    return _back_to_appointment(request, appointment)


def _say_send_outcome(request: AuthedRequest, message: Message, what: str, *, later: str) -> None:
    """What became of a send a person asked for (a reply, Send again, Send now): sent, queued (with a worker the send
    runs after the page answers), not sent, or of unknown fate. Never "sent" for one that was not: a failed or
    unknown one waits in Needs attention. ``later`` says where its status shows once it is sent."""
    cost = f" ({message.credits} credit{'s' if message.credits != 1 else ''})" if message.credits else ""
    if message.status == MessageStatus.FAILED:
        messages.error(request, f"{what} was not sent: {message.error or 'it was refused.'} Needs attention lists "
                                "it, with Send again.")
    elif message.status == MessageStatus.UNKNOWN:
        messages.warning(request, f"It is not known whether {what[0].lower()}{what[1:]} was sent: {message.error} "
                                  "Needs attention lists it.")
    elif message.status in (MessageStatus.QUEUED, MessageStatus.SENDING):
        messages.success(request, f"{what} is queued{cost}: it goes out in a moment. {later}")
    else:
        messages.success(request, f"{what} was sent{cost}.")


APPOINTMENT_MESSAGES_LATER = "The appointment's messages show when it is sent."


MESSAGE_ACTIONS = {
    "sent": (services.message_mark_sent, "Marked as sent."),
    "not-sent": (services.message_mark_not_sent, "Marked as not sent; any credits it took were refunded."),
    "send-again": (services.message_send_again, None),  # None: say what became of the new message
}


@require_POST
def message_action(request: AuthedRequest, pk: int, message_pk: int, action: str) -> HttpResponse:
    """From the appointment's messages: settle a failed or unknown message (mark sent, send again, not sent)."""
    appointment = appointment_for_change(request.user, pk)
    message = get_object_or_404(Message, pk=message_pk, appointment=appointment)
    if action not in MESSAGE_ACTIONS:
        return HttpResponse(status=404)
    service, success = MESSAGE_ACTIONS[action]
    try:
        outcome = service(actor=request.user, message=message)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        if success is None:
            outcome.refresh_from_db()  # sending ran after the commit (with a worker, it may not have run yet)
            _say_send_outcome(request, outcome, "The new message", later=APPOINTMENT_MESSAGES_LATER)
        else:
            messages.success(request, success)
    return _back_to_appointment(request, appointment)


@require_POST
def scheduled_reminder_action(request: AuthedRequest, pk: int, reminder_pk: int, action: str) -> HttpResponse:
    """From the appointment's messages: send a Scheduler reminder that was not sent now, or dismiss it."""
    appointment = appointment_for_change(request.user, pk)
    reminder = get_object_or_404(ScheduledReminder, pk=reminder_pk, appointment=appointment)
    try:
        if action == "send":
            sent = services.scheduled_reminder_send_now(actor=request.user, reminder=reminder)
            sent.refresh_from_db()  # sending ran after the commit
            _say_send_outcome(request, sent, "The reminder", later=APPOINTMENT_MESSAGES_LATER)
        elif action == "dismiss":
            services.scheduled_reminder_dismiss(actor=request.user, reminder=reminder)
            messages.success(request, "Dismissed: this reminder will not be sent.")
        else:
            return HttpResponse(status=404)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return _back_to_appointment(request, appointment)


@desk_or_admin
def reminders_screen(request: AuthedRequest) -> HttpResponse:
    """Pick a day, see preferences and what was sent, queue the usual reminders in bulk."""
    today = timezone.localdate()
    source = request.POST if request.method == "POST" else request.GET
    day = parse_day(source.get("day", ""), selectors.next_business_day(today))
    appointments = selectors.day_appointments(day)
    form = BulkForm(request.POST or None, initial={"day": day}, appointment_ids=[a.pk for a in appointments])
    if request.method == "POST" and form.is_valid():
        chosen = set(form.cleaned_data["appointments"])
        result = services.usual_reminders_bulk(
            actor=request.user, appointments=[a for a in appointments if a.pk in chosen],
            channels=form.cleaned_data["channels"], again=form.cleaned_data["again"])
        messages.success(request, f"{result.queued} reminder(s) queued; {result.skipped} already sent for that "
                                  "time were skipped.")
        for refusal in result.refused:
            messages.warning(request, refusal)
        return done(request, f"{reverse('reminders')}?day={day.isoformat()}")
    template = "reminders/_reminder_rows.html" if request.headers.get("HX-Target") == "reminder-rows" \
        else "reminders/reminders.html"
    return render(request, template, {
        "day": day, "appointments": appointments, "form": form, "title": "Reminders",
        "in_progress": any(m.status in ("queued", "sending") for a in appointments for m in a.messages.all()),
        "prev_day": day - timedelta(days=1), "next_day": day + timedelta(days=1),
    })


@require_GET
@desk_or_admin
def message_log(request: AuthedRequest) -> HttpResponse:
    form = MessageFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    page = Paginator(selectors.messages_filtered(**{k: v for k, v in filters.items() if v}), 50).get_page(
        request.GET.get("page"))
    return render(request, "reminders/messages.html", {"form": form, "page": page, "title": "Messages"})


@role_required(roles.is_practice_admin)
def templates_edit(request: AuthedRequest) -> HttpResponse:
    """The usual reminder templates (R14). The telehealth templates are fixed and not listed here (R13)."""
    forms = {channel: UsualTemplateForm(request.POST or None, instance=services.usual_template(channel),
                                        prefix=channel) for channel in Channel.values}
    if request.method == "POST" and all(form.is_valid() for form in forms.values()):
        sms, email = forms[Channel.SMS].cleaned_data, forms[Channel.EMAIL].cleaned_data
        try:
            services.usual_templates_update(actor=request.user, sms_body=sms["body"],
                                            email_subject=email["subject"], email_body=email["body"])
        except ApplicationError as exc:
            forms[Channel.SMS].add_error(None, exc.message)
        else:
            messages.success(request, "Reminder templates saved.")
            return done(request, reverse("reminder-templates"))
    return render(request, "reminders/templates.html", {
        "sms_form": forms[Channel.SMS], "email_form": forms[Channel.EMAIL], "fields": usual.MERGE_FIELDS,
        "title": "Reminder templates", "sms_preview": _preview(forms[Channel.SMS]["body"].value() or ""),
    })


@role_required(roles.is_practice_admin)
def settings_edit(request: AuthedRequest) -> HttpResponse:
    """The Scheduler's settings: lead time, quiet hours, on/off, low-balance warning (bounded at save)."""
    form = ReminderSettingsForm(request.POST or None, instance=ReminderSettings.load())
    if request.method == "POST" and form.is_valid():
        try:
            services.reminder_settings_update(actor=request.user, **{
                name: form.cleaned_data[name] for name in services.SETTINGS_FIELDS})
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Reminder settings saved.")
            return done(request, reverse("reminder-settings"))
    return render(request, "reminders/settings.html", {"form": form, "title": "Reminder settings"})


@require_POST
@role_required(roles.is_practice_admin)
def template_preview(request: AuthedRequest) -> HttpResponse:
    """Live preview of the SMS template with its segment and credit count (htmx)."""
    return render(request, "reminders/_sms_preview.html", {"preview": _preview(request.POST.get("sms-body", ""))})


def _preview(body: str) -> dict:
    from reminders import segments

    sample = {"first_name": "Olivia", "date": "Mon 30 Nov", "time": "10:00", "practitioner": "Amelia Nguyen",
              "location": "Surry Hills", "location_address": "12 Crown Street, Surry Hills NSW 2010",
              "practice_name": "Harbourside Allied Health", "practice_phone": "02 9000 1234",
              # Exactly as long as a real link, so the segments and credits counted are what a send costs.
              "client_link": scheduling_services.client_link_sample_url()}
    try:
        usual.validate_template(body)
    except ValidationError as exc:
        return {"error": " ".join(exc.messages)}
    text = usual.tidy(usual.render(usual.normalise_newlines(body), sample))
    info = segments.sms_segments(text)
    return {"text": text, "segments": info.segments, "encoding": info.encoding, "length": len(text),
            "credits": segments.usual_sms_credits(text)}


@desk_or_admin
def credits_page(request: AuthedRequest) -> HttpResponse:
    form = CreditPurchaseForm(request.POST or None) if roles.is_practice_admin(request.user) else None
    if request.method == "POST":
        if form is None:
            return HttpResponseForbidden("Only a practice admin enters purchases.")
        if form.is_valid():
            try:
                services.credits_purchase(actor=request.user, **form.cleaned_data)
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"{form.cleaned_data['amount']} credits added.")
                return done(request, reverse("credits"))
    page = Paginator(selectors.credit_entries(), 50).get_page(request.GET.get("page"))
    # Front desk may look at the balance (the top bar links here) but has no Options menu, whose pages it can't open.
    layout = "options/base.html" if form is not None else "reminders/_plain_layout.html"
    return render(request, "reminders/credits.html", {"form": form, "page": page, "title": "SMS credits",
                                                      "settings": ReminderSettings.load(), "layout": layout})


def _twilio_signed_params(request: HttpRequest) -> dict[str, str] | None:
    """The POSTed parameters of a Twilio webhook if X-Twilio-Signature is valid for them; None otherwise."""
    params = {key: request.POST.get(key, "") for key in request.POST}
    if not twilio_signature_is_valid(url=request.build_absolute_uri(), params=params,
                                     signature=request.headers.get("X-Twilio-Signature")):
        return None
    return params


@csrf_exempt  # Twilio can't send our CSRF token; its own signature is checked instead (RELIABILITY.md 9)
@login_not_required
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    params = _twilio_signed_params(request)
    if params is None:
        return HttpResponseForbidden("Invalid signature.")
    services.provider_status_update(provider_id=params.get("MessageSid", ""), status=params.get("MessageStatus", ""),
                                    error_code=params.get("ErrorCode", ""))
    return HttpResponse(status=204)


# Empty TwiML: Twilio sends no automatic answer (an answer would be an SMS the practice pays for).
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@csrf_exempt  # as the status callback: Twilio's signature instead of a CSRF token
@login_not_required
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    """An SMS a client sent to the practice's number: stored once per MessageSid and acted on (reminders.inbound)."""
    params = _twilio_signed_params(request)
    if params is None:
        return HttpResponseForbidden("Invalid signature.")
    try:
        inbound.inbound_sms_receive(provider_id=params.get("MessageSid", ""), from_number=params.get("From", ""),
                                    to_number=params.get("To", ""), body=params.get("Body", ""))
    except ApplicationError as exc:
        return HttpResponseBadRequest(exc.message)
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


# The Inbox --------------------------------------------------------------------------------------------------

@require_GET
@desk_or_admin
def inbox(request: AuthedRequest) -> HttpResponse:
    page = Paginator(selectors.inbox_messages(), 50).get_page(request.GET.get("page"))
    return render(request, "reminders/inbox.html", {"page": page, "title": "Inbox",
                                                    "dev_reply": dev.enabled()})


def _reply_context(message: InboundMessage, body: str = "") -> dict:
    return {"message": message, "body": body, "request_key": secrets.token_hex(8),
            "preview": _reply_preview(body), "opt_out": selectors.sms_opt_out(message.from_number),
            "title": "Inbox"}


def _reply_preview(body: str) -> dict:
    text = body.replace("\r\n", "\n").strip()
    info = segments.sms_segments(text)
    return {"length": len(text), "segments": info.segments, "encoding": info.encoding,
            "credits": segments.usual_sms_credits(text) if text else 0, "max": inbound.REPLY_MAX}


@desk_or_admin
def inbox_message(request: AuthedRequest, pk: int) -> HttpResponse:
    """One inbound SMS: who sent it, what the app did, and a reply (1 credit per segment) or "Mark handled"."""
    message = get_object_or_404(selectors.inbox_messages(), pk=pk)
    if request.method == "POST":
        body = request.POST.get("body", "")
        try:
            sent = inbound.inbound_reply(actor=request.user, inbound=message, body=body,
                                         request_key=request.POST.get("request_key", ""))
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return render(request, "reminders/inbox_message.html", _reply_context(message, body), status=200)
        sent.refresh_from_db()  # sending ran after the commit (with a worker, it may not have run yet)
        _say_send_outcome(request, sent, "The reply", later="Messages shows when it is sent.")
        return done(request, reverse("inbox"))
    return render(request, "reminders/inbox_message.html", _reply_context(message))


@require_POST
@desk_or_admin
def inbox_reply_preview(request: AuthedRequest) -> HttpResponse:
    """The reply's length, segments and credits while it is typed (htmx)."""
    return render(request, "reminders/_reply_preview.html", {"preview": _reply_preview(request.POST.get("body", ""))})


@require_POST
@desk_or_admin
def inbox_handled(request: AuthedRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(InboundMessage, pk=pk)
    try:
        inbound.inbound_mark_handled(actor=request.user, inbound=message)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Marked handled.")
    return done(request, reverse("inbox"))
