import secrets

from django import template
from django.utils import timezone

from reminders import selectors, services
from reminders.models import Channel, Message, MessageStatus, ScheduledReminder

register = template.Library()

# Scheduler states drawn with the message status colours (app.css): scheduled grey, sent blue, waiting amber,
# not sent red.
REMINDER_CSS: dict[str, str] = {
    ScheduledReminder.State.ARMED: "msg-queued", ScheduledReminder.State.SENT: "msg-sent",
    ScheduledReminder.State.HELD: "msg-unknown", ScheduledReminder.State.NOT_SENT: "msg-failed",
    ScheduledReminder.State.SKIPPED: "msg-queued", ScheduledReminder.State.RETIRED: "msg-queued",
}


def _needs_action(message: Message, now) -> bool:
    if message.resolution:
        return False
    if message.status == MessageStatus.SENDING:
        return message.updated_at < now - services.STALE_SENDING
    return message.status in (MessageStatus.FAILED, MessageStatus.UNKNOWN)


@register.inclusion_tag("reminders/_appointment_messages.html", takes_context=True)
def appointment_messages(context, appointment, can_change: bool) -> dict:
    """The appointment's message log with actions on failed or unknown messages, the Scheduler's reminders
    (state and reason), and the telehealth send buttons (R11) with "Sent 10:42 by Jo — Send again?"."""
    meeting = appointment.zoom_meeting
    can_send_telehealth = (can_change and appointment.is_telehealth and meeting is not None
                           and meeting.state == "active" and not appointment.is_cancelled)
    now = timezone.now()
    log = list(Message.objects.filter(appointment=appointment).select_related("sent_by", "resolved_by")[:30])
    for message in log:
        message.needs_action = can_change and _needs_action(message, now)  # type: ignore[attr-defined]
    telehealth = []
    if can_send_telehealth:
        for channel in Channel.values:
            latest = services.telehealth_last_sent(appointment, channel)
            telehealth.append({"channel": channel, "latest": latest,
                               "by": services.sender_name(latest) if latest else ""})
    scheduled = list(selectors.current_scheduled_reminders().filter(appointment=appointment)
                     .select_related("resolved_by"))
    for reminder in scheduled:
        reminder.css = REMINDER_CSS.get(reminder.state, "")  # type: ignore[attr-defined]
        reminder.can_act = (can_change and reminder.resolved_at is None  # type: ignore[attr-defined]
                            and reminder.state in (ScheduledReminder.State.HELD, ScheduledReminder.State.NOT_SENT)
                            and appointment.starts_at > now and not appointment.is_cancelled)
    return {
        "appointment": appointment,
        "log": log,
        "actions": True,
        "can_send_telehealth": can_send_telehealth,
        "telehealth": telehealth,
        "scheduled": scheduled,
        # Said before anyone clicks a send button that would be refused.
        "sms_opt_out": selectors.sms_opt_out(appointment.client.mobile),
        # One key per form shown (kept for the R7 message's buttons, which post one too).
        "request_key": secrets.token_hex(8),
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("reminders/_message_table.html")
def client_messages(client) -> dict:
    return {"log": Message.objects.filter(client=client).select_related("appointment", "sent_by", "resolved_by")[:50],
            "show_appointment": True}


@register.simple_tag
def sms_opt_out_for(client):
    """The client's mobile's SMS opt-out (it replied STOP), or None: ``{% sms_opt_out_for client as opt_out %}``."""
    return selectors.sms_opt_out(client.mobile)


@register.filter
def reminder_css(reminder: ScheduledReminder) -> str:
    return REMINDER_CSS.get(reminder.state, "")


@register.filter
def appointment_pk_from_tags(extra_tags: str) -> str:
    """The R7 message carries "appointment-<pk>" among its tags, for its send buttons."""
    for tag in extra_tags.split():
        if tag.startswith("appointment-"):
            return tag.removeprefix("appointment-")
    return ""
