"""Helpers every layer may use: clocks, bounded JSON, the state folder, atomic file writes.

This package sits under everything else and imports nothing of Airlock's.
"""
