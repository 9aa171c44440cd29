"""A Flask application that chooses its checkout with the `new-checkout` flag.

Run it with `flask --app app run`, or in production with
`gunicorn -c gunicorn.conf.py 'app:create_app()'` (with or without `--preload`: the client
follows the flags either way)."""

from __future__ import annotations

import os

from flags import make_client
from flask import Flask, Response, current_app, jsonify, request
from launchsequence_sdk import Client


def create_app(client: Client | None = None) -> Flask:
    """The application; `client` is the tests' (from TestData), else a client for the server."""
    app = Flask(__name__)
    app.extensions["launchsequence"] = client if client is not None else make_client()

    @app.get("/")
    def checkout() -> Response:
        flags: Client = current_app.extensions["launchsequence"]
        user = {
            "key": request.args.get("user", "anonymous"),
            "country": request.args.get("country", ""),
        }
        details = flags.bool_details("new-checkout", user, False)
        return jsonify(
            checkout="new" if details.value else "classic",
            reason=details.reason,
            pid=os.getpid(),
        )

    return app
