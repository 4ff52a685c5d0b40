from django.urls import path

from practice import views, views_audit, views_users

urlpatterns = [
    path("clients/", views.client_list, name="client-list"),
    path("clients/new/", views.client_new, name="client-new"),
    path("clients/search/", views.client_search_results, name="client-search"),
    path("clients/quick-search/", views.client_quick_search, name="client-quick-search"),
    path("clients/duplicates/", views.client_duplicates, name="client-duplicates"),
    path("clients/<int:pk>/", views.client_detail, name="client-detail"),
    path("clients/<int:pk>/edit/", views.client_edit, name="client-edit"),
    path("health/", views.health, name="health"),
    # Options → Practice, Locations, Practitioners (issue 8)
    path("options/practice/", views.options_practice, name="options-practice"),
    path("options/locations/", views.options_locations, name="options-locations"),
    path("options/locations/new/", views.options_location_new, name="options-location-new"),
    path("options/locations/<int:pk>/", views.options_location_edit, name="options-location-edit"),
    path("options/locations/<int:pk>/active/", views.options_location_active, name="options-location-active"),
    path("options/practitioners/", views.options_practitioners, name="options-practitioners"),
    path("options/practitioners/new/", views.options_practitioner_new, name="options-practitioner-new"),
    path("options/practitioners/<int:pk>/", views.options_practitioner_edit, name="options-practitioner-edit"),
    path("options/practitioners/<int:pk>/hours/", views.options_practitioner_hours,
         name="options-practitioner-hours"),
    # Options → Users and roles, Audit trail
    path("options/users/", views_users.options_users, name="options-users"),
    path("options/users/new/", views_users.options_user_new, name="options-user-new"),
    path("options/users/<int:pk>/", views_users.options_user_edit, name="options-user-edit"),
    path("options/users/<int:pk>/password/", views_users.options_user_password, name="options-user-password"),
    path("options/users/<int:pk>/active/", views_users.options_user_active, name="options-user-active"),
    path("options/audit/", views_audit.options_audit, name="options-audit"),
]
