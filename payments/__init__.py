"""Payment gateways behind one interface, found as entry-point plugins."""
