"""One settings module for every environment.

Everything that differs between a laptop and production comes from environment variables read
through one django-environ ``env``. With no environment at all the app runs embedded: SQLite,
Celery on a filesystem broker, console email. ``manage.py check --deploy`` fails while the
development secret key or DEBUG is in use, which is what keeps the defaults out of production.
"""

import hashlib
from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="django-insecure-development-only-key-do-not-use")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "practice.admin_site.OptionsAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
    "practice",
    "telehealth",
    "scheduling",
    "reminders",
    "attention",  # reads from every app above; nothing imports it
    "clientpage",  # the client's page /c/<code>, over every app; nothing imports it
    "options",  # the Options overview and first-run setup, over every app
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "practice.middleware.PrivateResponseMiddleware",  # outside the rest: also the login redirects and 403s
    "django.contrib.sessions.middleware.SessionMiddleware",
    "practice.middleware.IdleSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "practice.middleware.RoleRequiredMiddleware",
    "practice.middleware.PracticeTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "practice.context_processors.practice",
                "reminders.context_processors.credits",
                "attention.context_processors.needs_attention",
            ],
        },
    },
]

# Database: PostgreSQL in production and CI, SQLite as the embedded default.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock when a transaction starts, so concurrent bookings queue up
    # behind each other instead of failing with "database is locked" (RELIABILITY.md 2).
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})
    # A file, not shared-cache memory: shared-cache locks ignore the busy timeout.
    # TEST_DB_PATH lets two test runs share one checkout without sharing a database.
    DATABASES["default"]["TEST"] = {"NAME": env("TEST_DB_PATH", default=str(BASE_DIR / ".test-db.sqlite3"))}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The planner's default cost of a random read (4.0) is a spinning disk's: with it, the diary's join of a day's
    # 600 appointments to their clients read all 50,000 clients (9 ms) instead of 600 index lookups (2.5 ms).
    # 1.1 is PostgreSQL's advice for SSDs and data that fits in memory, as a practice's does.
    # The typo search (practice.selectors.client_search_similar) asks pg_trgm for a word similarity of 0.5, not its
    # default 0.6: two swapped letters in a short name ("Kelyl" for Kelly) score 0.5, and the skeleton search on
    # SQLite finds them.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "options", "-c random_page_cost=1.1 -c pg_trgm.word_similarity_threshold=0.5")
    # Prepared statements: a query the connection has run a few times is planned once, not on every request. The
    # panel's appointment (six tables joined) took 1.2 ms to plan and 0.2 ms to run; planning was half of every
    # page's database time. This needs the parameters sent apart from the SQL (server-side binding), so the text is
    # the same whatever the values. Off (DATABASE_PREPARED_STATEMENTS=false) behind a pooler that cannot keep them,
    # such as PgBouncer before 1.21 in transaction mode.
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        DATABASES["default"]["OPTIONS"].update({"server_side_binding": True, "prepare_threshold": 5})
# Keep connections between requests (opening one costs more than a small page); checked before reuse.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Authentication and sessions (RELIABILITY.md 17, 18)
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "practice.roles.RolesBackend",  # Django's ModelBackend, reading the user's roles with the user
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"  # the diary, or the first-run checklist for an admin
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = 30 * 60
# 30 minutes idle, not 30 minutes after login: IdleSessionMiddleware saves the session at most once a minute.
SESSION_COOKIE_HTTPONLY = True

# Lock out a username from one address after 5 failures for 15 minutes; other users behind the
# same NAT address (a whole front desk) keep working.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 0.25
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_IPWARE_PROXY_COUNT = env.int("DJANGO_PROXY_COUNT", default=0)

# Behind a TLS-terminating proxy in production.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# DJANGO_HTTPS=true in production: redirect to https, secure cookies, HSTS.
HTTPS = env.bool("DJANGO_HTTPS", default=False)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Sent on every response by practice.middleware.PrivateResponseMiddleware (RELIABILITY.md 29). Scripts and style
# sheets only from our own static files: no inline <script>, no on*= handlers, no <style> blocks (htmx is told
# not to inject its indicator styles, and not to eval). One exception: style *attributes*. The diary positions
# and colours each block and column with CSS custom properties in a style attribute (style="--top:…;--c:…"),
# computed per appointment on the server. style-src-attr admits only those attributes, never a <style> element
# or a style sheet from elsewhere; a style attribute cannot run script, and every value in them is escaped.
# Zoom's join and start links are navigations, which no directive here limits.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
)

LANGUAGE_CODE = "en-au"
TIME_ZONE = "UTC"  # storage; every page shows times in the practice's own zone
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = not env.bool("DJANGO_STATIC_MANIFEST", default=False)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed, compressed files need `collectstatic` first (the Dockerfile runs it).
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env.bool("DJANGO_STATIC_MANIFEST", default=False)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="practice@localhost")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)  # seconds; an SMTP server that hangs must not hang a worker

# Celery: Redis in production; with no REDIS_URL a filesystem broker under var/ so that a worker
# and beat run on a laptop without any server.
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
if not REDIS_URL:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(VAR_DIR / "broker"),
        "data_folder_out": str(VAR_DIR / "broker"),
        "processed_folder": str(VAR_DIR / "broker-processed"),
        "control_folder": str(VAR_DIR / "broker-control"),  # kombu's default is ./control in the working directory
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # The database is the schedule: sweeps find due rows; nothing is queued with a countdown or ETA.
    "zoom-reconcile": {"task": "telehealth.tasks.zoom_reconcile", "schedule": 60.0},
    "reminders-sweep": {"task": "reminders.tasks.reminders_sweep", "schedule": 300.0},
    # Nightly: 16:30 UTC is 02:30 or 03:30 in Sydney, when nobody is booking.
    "zoom-orphan-sweep": {"task": "telehealth.tasks.zoom_orphan_sweep", "schedule": crontab(minute=30, hour=16)},
}

# Zoom (telehealth). Both URLs can point at a stand-in: the local emulator for `make run`, a test double.
ZOOM_API_BASE_URL = env("ZOOM_API_BASE_URL", default="https://api.zoom.us/v2").rstrip("/")
ZOOM_OAUTH_TOKEN_URL = env("ZOOM_OAUTH_TOKEN_URL", default="https://zoom.us/oauth/token")
ZOOM_CONNECT_TIMEOUT = env.float("ZOOM_CONNECT_TIMEOUT", default=3.05)
ZOOM_READ_TIMEOUT = env.float("ZOOM_READ_TIMEOUT", default=10.0)

# SMS: "console" (the embedded default), "locmem" (tests) or "twilio", or a dotted path to a backend class.
SMS_BACKEND = env("SMS_BACKEND", default="console")
TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID", default="")
# In development a stand-in token lets the "reply as a client" page (/dev/sms-reply/) sign its requests to the
# inbound webhook; without DEBUG there is none, so no webhook is accepted until the real token is set.
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN", default="development-only-twilio-token" if DEBUG else "")
TWILIO_MESSAGING_SERVICE_SID = env("TWILIO_MESSAGING_SERVICE_SID", default="")
TWILIO_FROM_NUMBER = env("TWILIO_FROM_NUMBER", default="")
TWILIO_TIMEOUT = env.float("TWILIO_TIMEOUT", default=10.0)
# The public https base URL (e.g. https://diary.example.com): Twilio calls back there with delivery status,
# client links (/c/<code>) in messages and calendar feed links start with it.
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="").rstrip("/")
# Client links are made outside any request (in Celery); without a public address they point at the development
# server (a deploy check warns).
DEV_BASE_URL = "http://127.0.0.1:8000"

# Secrets stored in the database (Zoom client secrets) are encrypted with these Fernet keys, newest
# first; independent of SECRET_KEY so that rotating one does not lose the other. The default is for
# development only: `check --deploy` refuses it.
DEV_FIELD_ENCRYPTION_KEY = "ZGV2ZWxvcG1lbnQtb25seS1rZXktZG8tbm90LXVzZSE="
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[DEV_FIELD_ENCRYPTION_KEY])

# Practitioners' calendar feed links (/feeds/<token>.ics, issue 11) are JWTs signed with HS256 under a key id
# ("kid"), as "kid1:secret1,kid2:secret2": the first key signs new links, every key listed is accepted, so a new key
# goes first and the old one stays listed until its links may die. Independent of SECRET_KEY once set; unset, one
# key derived from SECRET_KEY (development; `check --deploy` warns).
DEV_CALENDAR_FEED_KEY = "dev:" + hashlib.sha256(f"calendar-feed:{SECRET_KEY}".encode()).hexdigest()
CALENDAR_FEED_KEYS = env.list("CALENDAR_FEED_KEYS", default=[DEV_CALENDAR_FEED_KEY])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    # twilio logs request URLs and headers at INFO; keep message metadata out of the logs.
    "loggers": {"axes": {"level": "WARNING"}, "twilio.http_client": {"level": "WARNING"}},
}
