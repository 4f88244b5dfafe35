"""A bad command line as one line: argparse's messages, rewritten to say what was wrong, what was
expected, and (difflib, as git does) the command, option or choice that was probably meant.

Imported only on the error path. The patterns are argparse's own message templates (CPython
Lib/argparse.py: ``ArgumentError``, ``_check_value``, ``_get_values``, ``parse_known_args``).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable

_ARGUMENT = re.compile(r"argument (?P<name>[^:]+): (?P<rest>.*)", re.S)
_CHOICE = re.compile(r"invalid choice: (?P<value>'.*?'|\".*?\"|\S+) \(choose from (?P<choices>.*)\)", re.S)
_TYPE = re.compile(r"invalid (?P<type>\w+) value: (?P<value>.*)", re.S)
_REQUIRED = re.compile(r"the following arguments are required: (?P<names>.*)", re.S)
TYPE_WORDS = {"int": "a whole number", "float": "a number", "positive_int": "a whole number ≥ 1",
              "port": "a port number (1-65535)"}


def explain(parser: argparse.ArgumentParser, message: str) -> str:
    """argparse's ``message`` about ``parser``'s command line as one self-explaining sentence."""
    prog = parser.prog
    help_hint = f"see `{prog} --help`"
    if m := _ARGUMENT.fullmatch(message):
        name, rest = m["name"], m["rest"]
        if c := _CHOICE.fullmatch(rest):
            value = _unquote(c["value"])
            choices = [_unquote(x.strip()) for x in c["choices"].split(",")]
            if name == "COMMAND":
                return (f"{prog}: unknown command {value!r}{did_you_mean(value, choices)} "
                        f"(commands: {', '.join(choices)})")
            hint = did_you_mean(value, choices)
            return f"{prog}: {name} {value!r} is not one of {', '.join(choices)}{hint}"
        if t := _TYPE.fullmatch(rest):
            what = TYPE_WORDS.get(t["type"], f"a {t['type']} value")
            return f"{prog}: {name} takes {what} (found {t['value']})"
        if rest.startswith("takes "):
            return f"{prog}: {name} {rest}"
        if rest.endswith(("no such file or directory", "no such directory", "not a directory",
                          "give a file name")) or ": the folder " in rest:
            return f"{prog}: {rest}"
        if rest == "expected one argument":
            return f"{prog}: {name} needs a value ({help_hint})"
        return f"{prog}: {name}: {rest}"
    if m := _REQUIRED.fullmatch(message):
        names = m["names"]
        verb = "is" if "," not in names else "are"
        return f"{prog}: {names} {verb} missing (usage: {usage(parser)}; {help_hint})"
    return f"{prog}: {message} ({help_hint})"


def unrecognized(parser: argparse.ArgumentParser, command: str | None, extra: Iterable[str]) -> str:
    """Arguments no option of the command takes: each named, with the closest option it has."""
    sub = subparser(parser, command) or parser
    options = [s for a in sub._actions for s in a.option_strings if s.startswith("--")]
    parts = []
    for arg in extra:
        if arg.startswith("-") and len(arg) > 1:
            flag = arg.split("=", 1)[0]
            parts.append(f"unknown option {flag}{did_you_mean(flag, options)}")
        else:
            parts.append(f"unexpected argument {arg!r}")
    return f"{sub.prog}: {'; '.join(parts)} (usage: {usage(sub)}; see `{sub.prog} --help`)"


def _unquote(text: str) -> str:
    """argparse shows str choices by repr ('lora') and others as they print (5)."""
    return text[1:-1] if len(text) > 1 and text[0] == text[-1] and text[0] in "'\"" else text


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    import difflib  # the only user; keeps the module's import light

    close = difflib.get_close_matches(value, list(choices), n=2, cutoff=0.6)
    return f"; did you mean {' or '.join(close)}?" if close else ""


def usage(parser: argparse.ArgumentParser) -> str:
    """The command and its positional arguments: ``paramscope inspect SOURCE [options]``."""
    words = [parser.prog]
    for a in parser._actions:
        if a.option_strings or isinstance(a, argparse._SubParsersAction):
            continue
        name = a.metavar if isinstance(a.metavar, str) else a.dest.upper()
        words.append(f"[{name}…]" if a.nargs in ("*", "?") else f"{name}…" if a.nargs == "+" else name)
    if any(a.option_strings and a.dest != "help" for a in parser._actions):
        words.append("[options]")
    return " ".join(words)


def subparser(parser: argparse.ArgumentParser, command: str | None) -> argparse.ArgumentParser | None:
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction) and command in a.choices:
            return a.choices[command]
    return None
