from django.urls import path

from reminders import dev, views

urlpatterns = [
    path("appointments/<int:pk>/send/<str:channel>/", views.telehealth_send, name="telehealth-send"),
    path("appointments/<int:pk>/messages/<int:message_pk>/<str:action>/", views.message_action,
         name="message-action"),
    path("appointments/<int:pk>/scheduled-reminders/<int:reminder_pk>/<str:action>/",
         views.scheduled_reminder_action, name="scheduled-reminder-action"),
    path("reminders/", views.reminders_screen, name="reminders"),
    path("reminders/settings/", views.settings_edit, name="reminder-settings"),
    path("reminders/templates/", views.templates_edit, name="reminder-templates"),
    path("reminders/templates/preview/", views.template_preview, name="reminder-template-preview"),
    path("messages/", views.message_log, name="messages"),
    path("credits/", views.credits_page, name="credits"),
    path("webhooks/twilio/status/", views.twilio_status, name="twilio-status"),
    path("webhooks/twilio/inbound/", views.twilio_inbound, name="twilio-inbound"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<int:pk>/", views.inbox_message, name="inbox-message"),
    path("inbox/<int:pk>/handled/", views.inbox_handled, name="inbox-handled"),
    path("inbox/reply-preview/", views.inbox_reply_preview, name="inbox-reply-preview"),
    # Development only (404 otherwise): reply to an SMS as the client, through the signed inbound webhook.
    path("dev/sms-reply/", dev.sms_reply, name="dev-sms-reply"),
]
