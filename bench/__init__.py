"""`python -m bench`: the whole interaction path under load, with its floor beside it.

Run `python -m bench --help`; `make bench` runs the defaults. Nothing here is imported by
the shop itself.
"""
