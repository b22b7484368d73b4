"""Cogs translate Discord interactions into store and payment calls."""
