"""Adapters at the edge: email (render and deliver), iCalendar bytes, the import/export format."""
