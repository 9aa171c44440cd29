import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
os.environ["LAUNCHSEQ_SERVER_KEY"] = ""  # the tests serve TestData, never a server's flags
django.setup()
