"""The one exception type for user mistakes."""


class GanzoError(Exception):
    """A mistake in the user's input (an option, a file, a folder).

    The message is a single line that names what is wrong and what to do. The
    commands print it on stderr and exit with status 2, without a traceback.
    """
