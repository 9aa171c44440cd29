"""What applications talk to: /sdk/v1 (evaluation, snapshot, streams) and /ofrep/v1.

Plain Starlette routes answered from the hubs in memory: no database read on these paths.
"""
