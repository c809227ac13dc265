"""The one exception type that user-facing commands turn into a one-line message."""


class InputError(ValueError):
    """Bad user input: a missing folder, an unpaired image, wrong geometry, ...

    The message is shown to the user as it is, on one line, so it must say what is
    wrong and where (a path), and, where there is one, what to do about it.
    """
