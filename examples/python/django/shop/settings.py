"""Settings of the example project: only what it needs (no database, no sessions)."""

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "change-me: the example's only")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INSTALLED_APPS = ["checkout.apps.CheckoutConfig"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "shop.urls"
WSGI_APPLICATION = "shop.wsgi.application"
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True

# Launch Sequence: the environment's server key and the server's URL.
LAUNCHSEQ_SERVER_KEY = os.environ.get("LAUNCHSEQ_SERVER_KEY", "")
LAUNCHSEQ_URL = os.environ.get("LAUNCHSEQ_URL", "http://127.0.0.1:8080")
