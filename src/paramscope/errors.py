"""One small hierarchy of errors, one class per violated rule.

Every message names the file, the rule, and what was found against what was expected; the CLI prints
``Error: <message>`` on one line and exits 1. Nothing here is ever shown as a traceback.
"""

from __future__ import annotations

# The exit statuses of every command, defined once: `paramscope --help` and docs/cli.md show this table.
EXIT_OK = 0
EXIT_ERROR = 1  # bad input or usage
EXIT_UNSAFE = 2  # the safety verdict of scan / inspect (analyses.safety.pickle_safety.Verdict.exit_code)
EXIT_INTERNAL = 70  # EX_SOFTWARE (BSD sysexits.h): a bug in paramscope
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "done",
    EXIT_ERROR: "bad input or usage: one line on stderr says what and why",
    EXIT_UNSAFE: "safety finding: loading a scanned or inspected pickle could run code",
    EXIT_INTERNAL: "a bug in paramscope: one line; PARAMSCOPE_DEBUG=1 for a traceback",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}


class ParamscopeError(Exception):
    """Base class: the message is complete and fit to show a user as one line."""

    exit_code = EXIT_ERROR


class SourceError(ParamscopeError):
    """The source cannot be opened: missing, not a regular file, unknown name or format."""


class UnknownFormatError(SourceError):
    """No reader recognises the file."""


class RemoteError(SourceError):
    """A remote source cannot be read: no network, no access (gated or private), no such repository,
    revision or file, no weights, or a server that does not answer byte ranges as asked."""


class UnsupportedError(ParamscopeError):
    """The file is well formed but uses something paramscope does not handle yet."""


class UsageError(ParamscopeError):
    """A command or option was given a value it does not take (an unknown GPU, runtime or kind)."""


class MissingExtraError(UnsupportedError):
    """A feature needs an optional package: the message names the extra that installs it."""

    def __init__(self, feature: str, extra: str, missing: str | None = None):
        self.extra = extra
        why = f" ({missing} is not installed)" if missing else ""
        super().__init__(f"{feature} needs the {extra} extra: pip install 'paramscope[{extra}]'{why}")


class FormatError(ParamscopeError):
    """The file breaks a rule of its format's spec."""

    def __init__(self, file: str, what: str, found: object = None, expected: object = None):
        self.file, self.what, self.found, self.expected = file, what, found, expected
        detail = ""
        if found is not None and expected is not None:
            detail = f" (found {clip(str(found))}, expected {clip(str(expected))})"
        elif found is not None:
            detail = f" (found {clip(str(found))})"
        super().__init__(f"{file}: {clip(what, 1000)}{detail}")


class TruncatedError(FormatError):
    """The file ends before a structure it declares."""


class HeaderError(FormatError):
    """A header is unreadable: bad magic, bad JSON, bad type tag, implausible count."""


class OffsetError(FormatError):
    """A tensor's data lies outside the file, overlaps another, or leaves holes."""


class DTypeError(FormatError):
    """A tensor's type is unknown, or its byte size disagrees with its shape and type."""


class ShapeError(FormatError):
    """A shape is negative, overflowing, or incompatible with its type's block size."""


CLIP = 300  # characters of a value a message quotes: a forged file's key or name can be megabytes long


def clip(text: str, limit: int = CLIP) -> str:
    """``text``, or its start and end around a count of what was left out, when longer than ``limit``:
    a 179,505-character GGUF key (a length field gone wrong) stays a readable line."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}…[{len(text) - 2 * half:,} characters]…{text[-half:]}"


def and_more(items: list[str], limit: int = 3) -> str:
    """'a, b, c (and 5 more)': long lists stay on one line."""
    shown = ", ".join(items[:limit])
    return shown + (f" (and {len(items) - limit} more)" if len(items) > limit else "")
