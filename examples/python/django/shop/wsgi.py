"""The WSGI application: `gunicorn shop.wsgi` (add `--preload` to build it before the fork)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
application = get_wsgi_application()  # runs CheckoutConfig.ready(), which starts the client
