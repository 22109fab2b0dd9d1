"""One exception type for everything the user did or asked wrong, so every interface can show it plainly."""


class MirrorError(Exception):
    """A problem with the user's input (database, CSV, question or SQL); the message is meant for them."""
