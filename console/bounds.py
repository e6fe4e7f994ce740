"""What a number or a time from a request may be: no more than the database holds.

Every id column is a signed 64-bit integer (PostgreSQL bigint; SQLite's INTEGER is the
same size). A larger number that reaches a query is an error inside the database driver
(SQLite: OverflowError), so each door that takes a number checks it first and answers
400 or 404 with a message: the path converter (`ID_PATTERN`), the filters and
serializers (`max_value=DB_INT_MAX`), the cursor pages, the websocket's `after`. A time
with an offset may fall off Python's calendar once it is put in UTC, as every stored time
is (9999-12-31T23:59-23:59): `in_utc` says so before a query or a save meets it.
"""

from datetime import UTC, datetime

DB_INT_MAX = 2**63 - 1
# An id in a path: 18 digits are always below DB_INT_MAX, 19 may not be. The database
# would need a quintillion rows before an id had 19 digits.
ID_PATTERN = "[0-9]{1,18}"
ID_MAX = 10**18 - 1


def is_db_int(value: object) -> bool:
    """True for an int (not a bool) that a bigint column can hold."""
    return (isinstance(value, int) and not isinstance(value, bool)
            and -DB_INT_MAX - 1 <= value <= DB_INT_MAX)


def in_utc(value: datetime) -> datetime | None:
    """The time in UTC, or None when that falls off the calendar (years 1 to 9999)."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return None
