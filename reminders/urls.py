from django.urls import path

from reminders import views

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
]
