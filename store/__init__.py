"""The shop's domain and persistence: catalog, carts, orders, accounts, fulfilment."""
