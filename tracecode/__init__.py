"""tracecode: the application shell (CLI, settings, local broker, topics, demo)."""

__version__ = "0.1.0"
