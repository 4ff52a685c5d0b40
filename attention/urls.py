from django.urls import path

from attention import views

urlpatterns = [
    path("attention/", views.needs_attention, name="needs-attention"),
    path("attention/meetings/<int:pk>/<str:action>/", views.meeting_action, name="attention-meeting"),
    path("attention/messages/<int:pk>/<str:action>/", views.message_action, name="attention-message"),
    path("attention/zoom-sweeps/<int:pk>/dismiss/", views.orphan_sweep_dismiss, name="attention-sweep"),
    path("attention/appointments/<int:pk>/<str:action>/", views.appointment_action, name="attention-appointment"),
    path("attention/reminders/<int:pk>/<str:action>/", views.reminder_action, name="attention-reminder"),
    path("attention/sms/<int:pk>/<str:action>/", views.sms_request_action, name="attention-sms"),
]
