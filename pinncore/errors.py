"""The one exception type for bad user input (CLI flags, config files, URL parameters, widgets)."""


class ConfigError(ValueError):
    """A one-line message that names the offending field and, where useful, the allowed values."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.reason = message
        super().__init__(f"{field}: {message}")


def first_line(exc: BaseException, limit: int = 160) -> str:
    """An exception's first line, at most ``limit`` characters: what a one-line error quotes."""
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."
