"""Tables for calendar feeds (tokens, fetch log). Imported by models.py so one metadata holds
every table."""
