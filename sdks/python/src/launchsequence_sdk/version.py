"""The SDK's version, sent to the server with every request (`X-LaunchSequence-SDK`)."""

__version__ = "0.1.0"
