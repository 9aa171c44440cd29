from django.apps import AppConfig


class CheckoutConfig(AppConfig):
    name = "checkout"

    def ready(self) -> None:
        # Start streaming the flags as the process starts (under `gunicorn --preload`, in the
        # master: every worker then opens its own stream after the fork, by itself).
        from . import flags

        flags.client()
