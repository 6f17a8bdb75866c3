"""UC3, the DSO: congestion management, its grid view, operation, negotiation, deferral."""
