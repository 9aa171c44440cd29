"""Hubs (one per environment: the live compiled snapshot and its stream subscribers) and the
change feed that tells every process about every committed change."""
