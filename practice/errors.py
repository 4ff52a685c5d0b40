class ApplicationError(Exception):
    """A rule of the practice refused an action; ``message`` is written for the person at the desk."""

    def __init__(self, message: str, *, code: str = "invalid", extra: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.extra = extra or {}
