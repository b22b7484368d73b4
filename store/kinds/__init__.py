"""Item kinds: what a catalog item does to an account. Plugins add more."""
