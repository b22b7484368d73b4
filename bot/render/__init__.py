"""Turning store results into embeds and views; no business rules here."""
