import secrets

from django import template

from reminders.models import Message

register = template.Library()


@register.inclusion_tag("reminders/_appointment_messages.html", takes_context=True)
def appointment_messages(context, appointment, can_change: bool) -> dict:
    """The appointment's message log, and the telehealth send buttons (R11) where they apply."""
    meeting = appointment.zoom_meeting
    return {
        "appointment": appointment,
        "log": Message.objects.filter(appointment=appointment).select_related("sent_by")[:30],
        "can_send_telehealth": can_change and appointment.is_telehealth and meeting is not None
        and meeting.state == "active" and not appointment.is_cancelled,
        # One key per form shown: a double click sends once.
        "request_key": secrets.token_hex(8),
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("reminders/_message_table.html")
def client_messages(client) -> dict:
    return {"log": Message.objects.filter(client=client).select_related("appointment", "sent_by")[:50],
            "show_appointment": True}


@register.filter
def appointment_pk_from_tags(extra_tags: str) -> str:
    """The R7 message carries "appointment-<pk>" among its tags, for its send buttons."""
    for tag in extra_tags.split():
        if tag.startswith("appointment-"):
            return tag.removeprefix("appointment-")
    return ""
