from django.urls import path

from clientpage import views

# Short on purpose: the page's URL goes into SMS ("/c/" and a 13-character code).
urlpatterns = [
    path("c/<str:code>", views.client_page, name="client-page"),
    path("c/<str:code>/join", views.client_join, name="client-page-join"),
    path("c/<str:code>/confirm", views.client_confirm, name="client-page-confirm"),
    path("c/<str:code>/cancel", views.client_cancel, name="client-page-cancel"),
    path("c/<str:code>/calendar.ics", views.client_calendar, name="client-page-calendar"),
]
