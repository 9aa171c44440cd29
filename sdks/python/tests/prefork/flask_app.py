"""A Flask application evaluating a flag, served by `gunicorn --preload -w 2 flask_app:app`."""

from __future__ import annotations

from typing import Any

from answer import flag_answer
from flask import Flask, request

app = Flask(__name__)


@app.get("/flag")
def flag() -> dict[str, Any]:
    return flag_answer(request.args.get("hold"))
