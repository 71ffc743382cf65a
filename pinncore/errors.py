"""The one exception type for bad user input (CLI flags, config files, URL parameters, widgets)."""


class ConfigError(ValueError):
    """A one-line message that names the offending field and, where useful, the allowed values."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.reason = message
        super().__init__(f"{field}: {message}")
