import os

from django.http import HttpRequest, JsonResponse

from . import flags


def checkout(request: HttpRequest) -> JsonResponse:
    user = {"key": request.GET.get("user", "anonymous"), "country": request.GET.get("country", "")}
    details = flags.client().bool_details("new-checkout", user, False)
    return JsonResponse(
        {"checkout": "new" if details.value else "classic", "reason": details.reason,
         "pid": os.getpid()}
    )  # fmt: skip
