from django.urls import path

from telehealth import views

urlpatterns = [
    path("options/zoom/", views.zoom_connections, name="zoom-connections"),
    path("options/zoom/app/", views.zoom_practice_app, name="zoom-practice-app"),
    path("options/zoom/<int:practitioner_pk>/", views.zoom_connection_edit, name="zoom-connection"),
    path("options/zoom/<int:practitioner_pk>/test/", views.zoom_connection_test, name="zoom-connection-test"),
    path("webhooks/zoom/", views.zoom_webhook, name="zoom-webhook"),
]
