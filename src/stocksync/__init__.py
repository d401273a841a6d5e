"""stocksync: a stock-synchronisation engine and flagship open-API server."""

__version__ = "0.1.0"
