from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("options.urls")),  # the Options overview and first-run setup
    path("", include("telehealth.urls")),  # Options → Zoom
    # The stock Django admin, for superusers only (practice.admin_site): practice admins work in Options.
    path("django-admin/", admin.site.urls),
    path("", include("practice.urls")),
    path("", include("scheduling.urls")),
    path("", include("reminders.urls")),
    path("", include("attention.urls")),
    path("", include("clientpage.urls")),  # /c/<code>: the client's page, no login
]

handler403 = "practice.views.permission_denied"
handler404 = "practice.views.page_not_found"
