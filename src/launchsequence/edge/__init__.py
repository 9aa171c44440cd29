"""The edge process: no database; it serves /sdk/v1 and /ofrep/v1 (and the relay stream, for
edges below it) from the snapshots its upstream streams to it, through the same hub code as
the core. See `app.create_edge_app`."""
