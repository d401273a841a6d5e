"""Helpers for the tests that run real processes: a server subprocess, loop clients, DB probes."""
