"""t360: command-line chat client for the Token360 LLM gateway."""

__version__ = "0.1.0"


def version_line() -> str:
    return f"t360 {__version__}"
