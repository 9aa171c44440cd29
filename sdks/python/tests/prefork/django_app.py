"""A one-module Django application evaluating a flag, served by
`gunicorn --preload -w 2 django_app:application`."""

from __future__ import annotations

import django
from django.conf import settings

settings.configure(
    DEBUG=False, ALLOWED_HOSTS=["127.0.0.1"], ROOT_URLCONF=__name__, SECRET_KEY="test-only",
    INSTALLED_APPS=[], MIDDLEWARE=[], DATABASES={},
)  # fmt: skip
django.setup()

from answer import flag_answer  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402


def flag(request: HttpRequest) -> JsonResponse:
    return JsonResponse(flag_answer(request.GET.get("hold")))


urlpatterns = [path("flag", flag)]
application = get_wsgi_application()
