"""The package version, kept apart so that any module may name it without importing the API."""

__version__ = "0.3.0"
