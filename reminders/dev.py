"""Development only: reply to an SMS as the client, so two-way SMS can be tried in ``make run`` without Twilio.

The page posts a request signed like Twilio's to the app's own inbound webhook (in-process, no network), so the
signature check, the matching and the Inbox are the real ones. It answers 404 unless DEBUG is on or SMS go to the
console backend.
"""

import uuid

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.test import Client as InProcessClient
from django.urls import reverse
from twilio.request_validator import RequestValidator

from practice.http import AuthedRequest
from practice.phones import mobile_to_e164
from reminders.models import Channel, InboundMessage, Message

DEV_FROM_NUMBER = "+61400000000"  # the practice's number in development, when TWILIO_FROM_NUMBER is not set


def enabled() -> bool:
    return bool(settings.DEBUG or settings.SMS_BACKEND == "console")


def _recent_sms() -> list[Message]:
    return list(Message.objects.filter(channel=Channel.SMS).select_related("client", "appointment")
                .order_by("-created_at", "-pk")[:20])


def _post_signed(request: AuthedRequest, *, number: str, body: str) -> tuple[int, str]:
    """POST what Twilio would to /webhooks/twilio/inbound/, signed with TWILIO_AUTH_TOKEN; the status and SID."""
    sid = "SM" + uuid.uuid4().hex
    params = {"MessageSid": sid, "AccountSid": settings.TWILIO_ACCOUNT_SID or "AC" + "0" * 32, "From": number,
              "To": settings.TWILIO_FROM_NUMBER or DEV_FROM_NUMBER, "Body": body, "NumMedia": "0"}
    path = reverse("twilio-inbound")
    url = request.build_absolute_uri(path)
    signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(url, params)
    response = InProcessClient().post(path, params, headers={"X-Twilio-Signature": signature},
                                      HTTP_HOST=request.get_host(), secure=request.is_secure())
    return response.status_code, sid


def sms_reply(request: AuthedRequest) -> HttpResponse:
    if not enabled():
        raise Http404("Development only.")
    recent = _recent_sms()
    error = ""
    if not settings.TWILIO_AUTH_TOKEN:
        error = "Set TWILIO_AUTH_TOKEN (any value will do in development) so the webhook can check the signature."
    if request.method == "POST" and not error:
        number = request.POST.get("number", "").strip() or request.POST.get("recent", "")
        body = request.POST.get("body", "")
        try:
            number = mobile_to_e164(number)
        except ValueError as exc:
            error = str(exc)
        if not number and not error:
            error = "Pick an SMS or type a mobile number."
        if not error:
            status, sid = _post_signed(request, number=number, body=body)
            received = InboundMessage.objects.filter(provider_id=sid).first()
            if status != 200 or received is None:
                error = f"The webhook answered {status}."
            else:
                note = f" {received.note}" if received.note else ""
                messages.success(request, f"Reply received: {received.get_outcome_display().lower()}.{note}")
                return redirect(reverse("dev-sms-reply"))
    return render(request, "reminders/dev_sms_reply.html", {
        "recent": recent, "error": error, "title": "Reply as a client (development)",
        "number": request.POST.get("number", ""), "body": request.POST.get("body", ""),
    })
