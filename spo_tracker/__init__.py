"""spo-tracker: deadlines, reminders and calendars for Stalking Protection Orders."""

__version__ = "0.1.0"
