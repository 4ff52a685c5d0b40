"""The app's settings plus the benchmark's floor view (bench/urls.py): never in the app's own URLs."""

import warnings

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
# Logging in is not what is measured; the app's argon2 would make each of the benchmark's logins slow.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AXES_ENABLED = False

warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: the benchmark runs no collectstatic
