"""Storage: SQLAlchemy Core tables, migrations and queries. The only place with SQL."""
