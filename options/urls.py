from django.urls import path

from options import views

urlpatterns = [
    path("", views.home, name="home"),
    path("options/", views.options_index, name="options"),
    path("options/setup/", views.setup, name="options-setup"),
]
