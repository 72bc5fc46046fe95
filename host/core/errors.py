"""One exception for everything a user can fix; the CLI prints it as `edgectl: ...`."""


class EdgeError(Exception):
    """A problem the user can fix. `code` is the exit status (1 failed, 2 usage/input)."""

    def __init__(self, msg, code=1):
        super().__init__(msg)
        self.code = code
