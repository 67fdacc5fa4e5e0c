"""The one exception type a user can cause: the CLI prints it as a sentence and exits 2."""


class MnistlabError(Exception):
    """A problem with the user's input, files or environment, worded for the user."""
