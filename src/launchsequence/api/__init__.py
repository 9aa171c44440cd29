"""The admin REST API at /api/v1: thin routes over the services."""
