"""Email: rendering (pure) and delivery (SMTP or a local maildir)."""
