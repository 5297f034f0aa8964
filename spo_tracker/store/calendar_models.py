"""Tables for calendar feeds (tokens, fetch log). Imported by models.py so one metadata holds
every table.

A feed token is a bearer secret in a URL: only its SHA-256 hash is stored, so a copy of the
database does not let anyone read the feeds. Timestamps are aware UTC datetimes.
"""

import datetime as dt

from sqlmodel import Field, SQLModel

FEED_TOKEN_FK = "feed_token.id"


class FeedTokenRow(SQLModel, table=True):
    """One subscription URL: whose deadlines it shows, who made it, whether it still works."""

    __tablename__ = "feed_token"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, index=True)  # sha256 hex of the plaintext token
    scope: str  # officer | team
    target: str = Field(index=True)  # the officer's email, or the team's name
    label: str | None = None
    created_at: dt.datetime
    created_by: str = Field(index=True)
    revoked_at: dt.datetime | None = None
    revoked_by: str | None = None
    last_used_at: dt.datetime | None = None
    fetch_count: int = 0
    # The body last served through this token and the Last-Modified given with it, so that
    # Last-Modified moves whenever the content does (an If-Modified-Since client never gets a
    # stale 304), and stays put while the content is unchanged.
    served_etag: str | None = None
    served_modified: dt.datetime | None = None


class FeedFetchRow(SQLModel, table=True):
    """One request for a feed: which token (None when unknown), when, the HTTP status."""

    __tablename__ = "feed_fetch"
    id: int | None = Field(default=None, primary_key=True)
    token_id: int | None = Field(
        default=None, foreign_key=FEED_TOKEN_FK, index=True, ondelete="CASCADE"
    )
    at: dt.datetime = Field(index=True)
    status: int
    client: str | None = None  # the client's address, for investigating bad-token floods
