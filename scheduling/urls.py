from django.urls import path, re_path

from scheduling import views, views_feeds

urlpatterns = [
    path("diary/", views.diary, name="diary"),
    path("diary/week/", views.diary_week, name="diary-week"),
    path("diary/sheet/", views.day_sheet, name="day-sheet"),
    path("diary/zoom-live/", views.diary_zoom_live, name="diary-zoom-live"),
    path("appointments/new/", views.appointment_new, name="appointment-new"),
    path("appointments/<int:pk>/", views.appointment_detail, name="appointment-detail"),
    path("appointments/<int:pk>/move/", views.appointment_move, name="appointment-move"),
    path("appointments/<int:pk>/move/preview/", views.appointment_move_preview, name="appointment-move-preview"),
    path("appointments/undo/", views.appointment_undo, name="appointment-undo"),
    path("appointments/<int:pk>/status/", views.appointment_status, name="appointment-status"),
    path("appointments/<int:pk>/confirm/", views.appointment_confirm, name="appointment-confirm"),
    path("appointments/<int:pk>/cancel/", views.appointment_cancel, name="appointment-cancel"),
    path("appointments/<int:pk>/reinstate/", views.appointment_reinstate, name="appointment-reinstate"),
    path("appointments/<int:pk>/telehealth/", views.appointment_telehealth_add, name="appointment-telehealth-add"),
    path("appointments/<int:pk>/telehealth/delete/", views.appointment_telehealth_remove,
         name="appointment-telehealth-remove"),
    path("appointments/<int:pk>/zoom/", views.zoom_details, name="appointment-zoom"),
    path("appointments/<int:pk>/zoom/start/", views.zoom_start, name="appointment-zoom-start"),
    path("appointments/<int:pk>/zoom/restore/", views.appointment_zoom_restore, name="appointment-zoom-restore"),
    path("options/appointment-types/", views.options_appointment_types, name="options-appointment-types"),
    path("options/appointment-types/new/", views.options_appointment_type_new, name="options-appointment-type-new"),
    path("options/appointment-types/<int:pk>/", views.options_appointment_type_edit,
         name="options-appointment-type-edit"),
    # Calendar feeds (issue 11): the public .ics (base64url JWT segments), the practitioner's page, Options.
    re_path(r"^feeds/(?P<token>[A-Za-z0-9_.-]{1,600})\.ics\Z", views_feeds.calendar_feed, name="calendar-feed"),
    path("calendar-feed/", views_feeds.my_calendar_feed, name="my-calendar-feed"),
    path("options/calendar-feeds/", views_feeds.options_calendar_feeds, name="options-calendar-feeds"),
    path("options/calendar-feeds/<int:practitioner_pk>/off/", views_feeds.options_calendar_feed_off,
         name="options-calendar-feed-off"),
]
