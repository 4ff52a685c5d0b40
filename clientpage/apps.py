from django.apps import AppConfig


class ClientpageConfig(AppConfig):
    name = "clientpage"
    verbose_name = "Client page"
