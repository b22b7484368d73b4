"""The local sandbox: the real bot, store and workers with the offline harness in place
of Discord, and a browser page and JSON API to use it."""
