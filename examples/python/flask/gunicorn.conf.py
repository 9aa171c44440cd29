# gunicorn settings for the example: `gunicorn -c gunicorn.conf.py 'app:create_app()'`.
# Add `--preload` to build the application (and its flag client) once in the master before the
# workers are forked: each worker then opens its own stream by itself, nothing to configure.
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WORKERS", "2"))
worker_class = "sync"
# Let a worker finish its requests and close its client (atexit) on a stop or restart.
graceful_timeout = 10
