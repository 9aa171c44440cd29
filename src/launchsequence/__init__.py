"""Launch Sequence: self-hostable feature flags with real-time delivery."""

__version__ = "0.1.0"
