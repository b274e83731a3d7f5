"""The one exception type the CLI turns into a one-line message and a non-zero exit."""


class SupplyflowError(Exception):
    """Something the user can fix; the message says what went wrong and what to do."""
