"""Public schema: the network, its regions, users, network roles and the audit log."""
