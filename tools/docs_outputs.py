"""Re-run the commands the documentation shows, and check its links.

    python tools/docs_outputs.py                      # every `$ paramscope …` block of README.md, docs/*.md
    python tools/docs_outputs.py docs/fit.md -v       # one page, with a short diff per stale block
    python tools/docs_outputs.py --only cheap         # no real model file, no network, no benchmark
    python tools/docs_outputs.py --write docs/fit.md  # paste today's output into the stale blocks
    python tools/docs_outputs.py --links              # relative links and #anchors only

A block is a fenced block holding lines that start with ``$ paramscope`` (or ``$ echo $?``, which
belongs to the command before it); what follows each command, up to the next ``$``, is its output. A
```python block of ``>>>`` lines is a session replayed in one fresh interpreter (``paramscope``
imported, as the page's first block does): each value's repr, or an exception as ``module.Name: msg``.
Each command runs through bash in a scratch folder in which the short names the pages use (the table
FIXTURES: the real files of tools/fetch_models.py, configs of tests/fixtures/, files generated the way
the page describes them) are links to the real files; the real paths are printed back as the short
names. stdout and stderr are read together, as a terminal shows them. Outputs are compared line by
line with trailing blanks removed; a line ``…`` in the page stands for any number of lines left out,
and a command marked ``(abridged)`` or ``# excerpt`` only needs its lines to appear in order (a JSON
line's trailing comma aside: dropping keys moves it).

The width: ``COLUMNS=N`` or "N columns" in the paragraph right before the block; else the narrowest of
80, 100, 120, 160, 200 that holds the command's widest line (an ``Error:`` line is never wrapped, so it does
not count), and when that differs, the other widths in turn: the first that gives the page's output.

Lines that depend on the machine (the table MACHINE_DEPENDENT) equal any line the same rule matches,
and --write keeps the page's version of them.

Each block is reported as ``equal``, ``differs`` (with a short diff under -v) or ``cannot run`` (why:
a file no builder here makes, the network, a benchmark). Exit status 1 when a block differs or a link
is broken.
"""

from __future__ import annotations

import argparse
import difflib
import itertools
import os
import pickle
import re
import shlex
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

ELISION = "…"

# Lines whose content depends on the machine that ran the command, not on paramscope: (command regex,
# line regex, why). Such a line equals the page's when both match the same rule.
MACHINE_DEPENDENT: list[tuple[str, str, str]] = [
    (r"\b(gpus|fit)\b", r"^This machine: |^  no NVIDIA GPU found|^  GPU \d+: ",
     "this machine's RAM and GPUs (and whether psutil / nvidia-ml-py are installed)"),
    (r".", r'^\s*"(seconds|bytes_per_second)": [0-9.e+-]+,?$', "timings in --json"),
    (r".", r"(hashed|took|elapsed|wall|in) \d+(\.\d+)? ?(s|ms|min)\b|\d+(\.\d+)? ?[KMG]i?B/s|"
           r", \d+(\.\d+)? s\)",
     "timings and throughput"),
]


# --- the short names the pages use --------------------------------------------------------------------

def _gemma(d: Path) -> Path:
    import fetch_models
    return fetch_models.gemma_gguf()


def _minilm(d: Path) -> Path:
    import fetch_models
    return fetch_models.minilm_dir()


def _config(name: str, folder: str = "configs") -> Callable[[Path], Path]:
    return lambda d: ROOT / "tests" / "fixtures" / folder / name


def _truncated(d: Path) -> Path:
    """docs/inspect.md: a GGUF cut after its magic and version (8 bytes)."""
    p = d / "truncated.gguf"
    p.write_bytes(b"GGUF" + struct.pack("<I", 3))
    return p


def _bomb(d: Path) -> Path:
    """docs/formats.md: a header that declares 1,000,000 tensors (sparse, as tests/test_header_bomb.py)."""
    p = d / "bomb.gguf"
    p.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 1_000_000, 0))
    with open(p, "r+b") as f:
        f.truncate(24 + 24 * 1_000_000)
    return p


def _payload() -> bytes:
    from builders.scan_attacks import payload
    return payload(Path("MARKER"))


def _evil(d: Path) -> Path:
    """docs/pytorch-onnx.md: pickle.dumps of an object whose __reduce__ returns os.system."""
    p = d / "evil.pkl"
    p.write_bytes(_payload())
    return p


def _model_pt(d: Path) -> Path:
    """docs/pytorch-onnx.md: a torch.save'd state dict (written in torch.save's layout without torch,
    by tests/builders/pickle_files.py)."""
    from builders.pickle_files import one_tensor_checkpoint
    return one_tensor_checkpoint(d / "model.pt")


def _weights_pkl(d: Path) -> Path:
    """docs/security.md: pickle.dumps of an OrderedDict."""
    from builders.scan_attacks import benign
    p = d / "weights.pkl"
    p.write_bytes(benign())
    return p


def _two_pickles(d: Path) -> Path:
    """docs/security.md: a harmless pickle followed by a second one calling posix.system."""
    p = d / "two-pickles.pkl"
    p.write_bytes(pickle.dumps(None) + _payload())
    return p


def _frame(d: Path) -> Path:
    """docs/security.md: a protocol-4 FRAME that declares 3 bytes while its opcodes run on."""
    from builders.scan_attacks import frame_straddle
    p = d / "frame.pkl"
    frame_straddle(p, Path("MARKER"))
    return p


def _notes(d: Path) -> Path:
    """docs/security.md: a text file."""
    p = d / "notes.pkl"
    p.write_text("just some notes\n")
    return p


def _minilm_lora(d: Path) -> Path:
    """docs/diff.md: MiniLM with a rank-8 change in four matrices (tests/builders/diff_files.py)."""
    from builders.diff_files import minilm_lora
    return minilm_lora(_minilm(d), d / "minilm-lora")


def _minilm_q8(d: Path) -> Path:
    """docs/diff.md: MiniLM's weights as GGUF Q8_0, written by gguf-py (tests/builders/diff_files.py)."""
    from builders.diff_files import minilm_q8_gguf
    return minilm_q8_gguf(_minilm(d), d / "minilm-q8_0.gguf")


def _gemma_requant(d: Path) -> Path:
    """docs/diff.md: the Gemma GGUF, six tensors re-quantized by gguf-py (tests/builders/diff_files.py)."""
    import gguf

    from builders.diff_files import gemma_requantized
    return gemma_requantized(gguf.GGUFReader(_gemma(d)), d / "gemma-requant.gguf")


def _link_or_copy(src: Path, dst: Path) -> None:
    import shutil
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _zoo(d: Path) -> Path:
    """docs/zoo.md: tests/builders/zoo_files.py's zoo in two folders, plus the real Gemma 3 270M GGUF
    with a copy of it in the second folder and all-MiniLM-L6-v2."""
    import shutil

    from builders.zoo_files import build_zoo
    root = d / "zoo"
    build_zoo(root, repeat=2)
    gemma = _gemma(d)
    _link_or_copy(gemma, root / "gemma-3-270m-q4_k_m.gguf")
    _link_or_copy(gemma, root / "set0001" / "gemma-copy.gguf")
    shutil.copytree(_minilm(d), root / "all-MiniLM-L6-v2", copy_function=_link_or_copy)
    return root


FIXTURES: dict[str, Callable[[Path], Path]] = {
    "gemma-3-270m-q4_k_m.gguf": _gemma,
    "all-MiniLM-L6-v2": _minilm,
    "mt5-small.json": _config("mt5-small.json"),
    "google__gemma-4-E2B.json": _config("google__gemma-4-E2B.json"),
    "qwen2.5-7b-instruct-awq.config.json": _config("qwen2.5-7b-instruct-awq.config.json",
                                                   "engine_logs/configs"),
    "nvidia-qwen3.6-35b-a3b-nvfp4": _config("nvidia-qwen3.6-35b-a3b-nvfp4", "engine_logs/configs"),
    "truncated.gguf": _truncated,
    "bomb.gguf": _bomb,
    "evil.pkl": _evil,
    "model.pt": _model_pt,
    "weights.pkl": _weights_pkl,
    "two-pickles.pkl": _two_pickles,
    "frame.pkl": _frame,
    "notes.pkl": _notes,
    "minilm-lora": _minilm_lora,
    "minilm-q8_0.gguf": _minilm_q8,
    "gemma-requant.gguf": _gemma_requant,
    "zoo": _zoo,
}
# the real model files: a block that names one is not cheap (--only cheap leaves it out)
REAL_FILES = {"gemma-3-270m-q4_k_m.gguf", "all-MiniLM-L6-v2", "minilm-lora", "minilm-q8_0.gguf",
              "gemma-requant.gguf", "zoo"}
# arguments that name a file or folder (by their look), so a name outside FIXTURES cannot run
FILE_LIKE = re.compile(r"\.(gguf|safetensors|pkl|pt|pth|bin|onnx|json|txt|parquet)$|^\.?/|^~")
# options whose value is a file the command writes
OUTPUT_OPTIONS = {"--plot", "-o", "--out", "--output"}


# --- the blocks ---------------------------------------------------------------------------------------

@dataclass
class Command:
    line: int                      # 1-based line of the `$` in the page
    text: str                      # what bash runs (the `$ ` and any page annotation removed)
    shown: str                     # the command as the page shows it
    expected: list[str] = field(default_factory=list)
    excerpt: bool = False          # only its lines in order
    out_start: int = 0             # 0-based line range of the output in the page
    out_end: int = 0
    python: bool = False           # a ```python block of `>>>` lines: the whole block is the session


@dataclass
class Block:
    page: Path
    line: int                      # 1-based line of the opening fence
    width: int | None              # COLUMNS=N or "N columns" in the prose before it
    commands: list[Command]


def _declared_width(prose: list[str]) -> int | None:
    """COLUMNS=N or "N columns" in the paragraph right before the block."""
    para: list[str] = []
    for ln in reversed(prose):
        if not ln.strip():
            if para:
                break
            continue
        para.insert(0, ln)
    text = " ".join(para)
    m = re.findall(r"COLUMNS=(\d+)|(\d+) columns", text)
    if not m:
        return None
    a, b = m[-1]
    return int(a or b)


def blocks(page: Path) -> Iterator[Block]:
    lines = page.read_text().split("\n")
    i, prose_start = 0, 0
    while i < len(lines):
        if not lines[i].startswith("```"):
            i += 1
            continue
        start = i
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        body = range(start + 1, j)
        cmds: list[Command] = []
        if lines[start].strip() == "```python" and any(lines[k].startswith(">>> ") for k in body):
            session = [lines[k] for k in body]
            first = next(x for x in session if x.startswith(">>> "))
            cmds.append(Command(start + 2, "\n".join(session), first[4:], expected=session,
                                out_start=start + 1, out_end=j, python=True))
            yield Block(page, start + 1, _declared_width(lines[prose_start:start]), cmds)
            i = j + 1
            prose_start = i
            continue
        continued = False
        for k in body:
            ln = lines[k]
            if continued:              # `\` at the end of a command: the next line is more of it
                cmds[-1].text = cmds[-1].text.removesuffix("\\").rstrip() + " " + ln.strip()
                cmds[-1].out_start = k + 1
                continued = ln.endswith("\\")
                continue
            if ln.startswith("$ paramscope ") or ln.startswith("$ python ") or (
                    ln.startswith("$ echo $?") and cmds):
                shown = ln[2:]
                text, excerpt = shown, False
                m = re.search(r"\s+\((abridged|excerpt)\)\s*$", text)
                if m:
                    text, excerpt = text[:m.start()], True
                if re.search(r"#.*\b(excerpt|abridged)\b", text):
                    excerpt = True
                if ln.startswith("$ echo $?"):
                    prev = cmds[-1]
                    prev.text += "\n" + text
                    prev.shown += "\n" + shown
                    prev.expected.append(ln)   # the page's own `$ echo $?` line stays in the comparison
                    continue
                cmds.append(Command(k + 1, text, shown, excerpt=excerpt, out_start=k + 1))
                continued = ln.endswith("\\")
            elif cmds:
                cmds[-1].expected.append(ln)
        for c in cmds:
            c.out_end = c.out_start + len(c.expected)
        if cmds:
            yield Block(page, start + 1, _declared_width(lines[prose_start:start]), cmds)
        i = j + 1
        prose_start = i


# --- running ------------------------------------------------------------------------------------------

@dataclass
class Result:
    block: Block
    command: Command
    status: str                    # equal, differs, cannot run
    why: str = ""
    actual: list[str] = field(default_factory=list)
    diff: list[str] = field(default_factory=list)
    width: int | None = None


# A ```python block of `>>>` lines, replayed the way the page writes it: each `>>> ` line echoed, then
# the repr of its value (an expression) or nothing (a statement), or the exception's one line as the
# page shows it (module.Name: message); blank lines kept, the page's result lines replaced.
SESSION = """
import sys
import paramscope
ns = {"paramscope": paramscope}   # the page imports it once, in its first block
for line in sys.argv[1].split("\\n"):
    if not line.startswith(">>> "):
        if not line.strip():
            print()
        continue
    print(line)
    code = line[4:]
    try:
        try:
            compiled = compile(code, "<doc>", "eval")
        except SyntaxError:
            exec(compile(code, "<doc>", "exec"), ns)
        else:
            value = eval(compiled, ns)
            if value is not None:
                print(repr(value))
    except Exception as e:
        print(f"{type(e).__module__}.{type(e).__qualname__}: {e}")
"""

WIDTHS = (80, 100, 120, 160, 200)


def widths(block: Block, cmd: Command) -> list[int]:
    if block.width:
        return [block.width]
    shown = max((len(x.rstrip()) for x in cmd.expected if not x.startswith(("Error:", "$ "))), default=0)
    first = next((w for w in WIDTHS if shown <= w), WIDTHS[-1])
    return [first, *(w for w in WIDTHS if w != first)]


def _tokens(cmd: str) -> list[str]:
    try:
        return shlex.split(cmd, comments=True)
    except ValueError:
        return cmd.split()


# commands a page shows in another environment than this one: (regex on the page's line, why)
ENVIRONMENT: list[tuple[str, str]] = [
    (r"#.*without the \w+ extra", "shows an environment without an optional extra"),
    (r"^paramscope ls$", "lists this machine's model caches"),
]
# commands whose arguments after the command are all sources; others take one (diff: two)
ALL_SOURCES = {"scan"}
NO_SOURCE = {"catalogue", "gpus", "serve", "ls"}


def _known_name(name: str) -> bool:
    from paramscope.knowledge import catalogue
    return catalogue.has(name)


def needs(cmd: Command) -> tuple[set[str], str | None]:
    """The FIXTURES the command names, or why it cannot run here."""
    if cmd.python:
        return {n for n in FIXTURES if f'"{n}"' in cmd.text or f"'{n}'" in cmd.text}, None
    if cmd.text.startswith("python "):
        return set(), "a benchmark or script, not a paramscope command (its figures are timings)"
    for pattern, why in ENVIRONMENT:
        if re.search(pattern, cmd.shown.split("\n")[0]):
            return set(), why
    toks = _tokens(cmd.text.split("\n")[0].split(";")[0].split("|")[0])
    if any(t.startswith(("hf:", "ollama:")) for t in toks):
        return set(), "needs the network (hf: / ollama: sources)"
    if any(ELISION in t for t in toks):
        return set(), "a synopsis, not a command"
    positional = [t for a, t in itertools.pairwise(toks[1:])
                  if not t.startswith("-") and a not in OUTPUT_OPTIONS]
    sub = toks[1] if len(toks) > 1 else ""
    n = len(positional) if sub in ALL_SOURCES else 0 if sub in NO_SOURCE else 2 if sub == "diff" else 1
    names: set[str] = set()
    for t in positional[:n]:
        base = t[2:] if t.startswith("./") else t
        if base in FIXTURES:
            names.add(base)
        elif (ROOT / t).exists() and not Path(t).is_absolute():
            continue                                  # a file of the repository, by its path
        elif FILE_LIKE.search(t) or not _known_name(t):
            return names, f"no builder here for {t} (add one to FIXTURES)"
    return names, None


def _machine_rule(cmd: str, line: str) -> str | None:
    for c, ln, why in MACHINE_DEPENDENT:
        if re.search(c, cmd) and re.search(ln, line):
            return why
    return None


def _same(cmd: str, expected: str, actual: str) -> bool:
    if expected == actual:
        return True
    rule = _machine_rule(cmd, expected)
    return rule is not None and rule == _machine_rule(cmd, actual)


def _unwrap(cmd: str, lines: list[str]) -> list[str]:
    """A machine-dependent line joined with the lines its open parenthesis wraps onto: how a timing
    wraps depends on its digits ("read in 2.36 s, 0.08 GB/s (numba, hashes" / "xxh3-128)")."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if _machine_rule(cmd, line):
            while line.count("(") > line.count(")") and i < len(lines) and lines[i].strip() != ELISION:
                line = f"{line} {lines[i].strip()}"
                i += 1
        out.append(line)
    return out


def compare(cmd: Command, actual: list[str]) -> list[str]:
    """[] when the page's lines match the actual ones, else a short unified diff."""
    exp = _unwrap(cmd.text, [x.rstrip() for x in cmd.expected])
    act = _unwrap(cmd.text, [x.rstrip() for x in actual])
    while exp and not exp[-1]:
        exp.pop()
    while act and not act[-1]:
        act.pop()
    if cmd.excerpt:
        it = iter(act)
        for e in exp:
            # an abridged JSON document drops keys, and with them the comma of the line before
            if e.strip() != ELISION and not any(_same(cmd.text, e.removesuffix(","), a.removesuffix(","))
                                                for a in it):
                close = difflib.get_close_matches(e, act, n=1, cutoff=0.6)
                return [f"-{e}", *(f"+{c}" for c in close), "(an excerpt: this page line is not in today's "
                        "output after the lines before it)"]
        return []
    elif any(x.strip() == ELISION for x in exp):
        segments: list[list[str]] = [[]]
        for x in exp:
            if x.strip() == ELISION:
                segments.append([])
            else:
                segments[-1].append(x)
        pos, ok = 0, True
        for n, seg in enumerate(segments):
            if not seg:
                continue
            anchored = n == 0
            found = -1
            for s in range(pos, len(act) - len(seg) + 1):
                if all(_same(cmd.text, e, a) for e, a in zip(seg, act[s:s + len(seg)], strict=True)):
                    found = s
                    break
                if anchored:
                    break
            if found < 0:
                ok = False
                break
            pos = found + len(seg)
        if ok and segments[-1] and pos != len(act):
            ok = False                  # the last segment ends the output unless an … follows it
        if ok:
            return []
    elif len(exp) == len(act) and all(_same(cmd.text, e, a) for e, a in zip(exp, act, strict=True)):
        return []
    return list(difflib.unified_diff(exp, act, "page", "today", n=1, lineterm=""))[2:]


class Runner:
    def __init__(self, python: str, timeout: float) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="docs-outputs-")
        self.dir = Path(self.tmp.name)
        (self.dir / "docs").mkdir()          # --plot docs/x.png writes here, not over the page's image
        shim = self.dir / ".bin"
        shim.mkdir()
        (shim / "paramscope").write_text(f'#!/bin/sh\nexec {shlex.quote(python)} -m paramscope "$@"\n')
        (shim / "paramscope").chmod(0o755)
        self.env = dict(os.environ, PATH=f"{shim}:{os.environ['PATH']}",
                        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
                        NO_COLOR="1", TERM="dumb")
        self.env.pop("FORCE_COLOR", None)
        self.timeout = timeout
        self.python = python
        self.made: dict[str, Path | str] = {}   # short name -> real path, or why it could not be made

    def fixture(self, name: str) -> str | None:
        """Link the short name into the scratch folder; None, or why it could not be made."""
        if name not in self.made:
            try:
                real = FIXTURES[name](self.dir)
                link = self.dir / name
                if real != link:
                    link.symlink_to(real)
                self.made[name] = real
            except Exception as e:  # a builder that needs what is not installed: say so
                self.made[name] = f"cannot make {name}: {type(e).__name__}: {e}"
        made = self.made[name]
        return made if isinstance(made, str) else None

    def folder(self, page: Path) -> Path:
        """The page's own folder, where its commands run: the fixtures it names are linked there, so what
        one page's commands see (``scan`` judges a file's folder: a linked model folder there is possible
        code) does not depend on which other pages ran before it."""
        where = self.dir / "pages" / page.stem
        if not where.is_dir():
            (where / "docs").mkdir(parents=True)  # --plot docs/x.png writes here
        return where

    def _link(self, name: str, where: Path) -> None:
        real = self.made[name]
        link = where / name
        if isinstance(real, Path) and not link.exists() and not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(real)

    def run(self, block: Block, cmd: Command) -> Result:
        names, why = needs(cmd)
        if why is None:
            for n in sorted(names):
                why = self.fixture(n)
                if why:
                    break
                self._link(n, self.folder(block.page))
        if why:
            return Result(block, cmd, "cannot run", why)
        tried = []
        for w in widths(block, cmd):
            r = self._run(block, cmd, w)
            if r.status != "differs":
                return r
            tried.append(r)
        return min(tried, key=lambda r: len(r.diff))   # the width closest to the page's

    def _run(self, block: Block, cmd: Command, width: int) -> Result:
        env = dict(self.env, COLUMNS=str(width))
        argv = [self.python, "-c", SESSION, cmd.text] if cmd.python else ["bash", "-c", cmd.text]
        where = self.folder(block.page)
        try:
            r = subprocess.run(argv, cwd=where, env=env, capture_output=True,
                               text=True, timeout=self.timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return Result(block, cmd, "cannot run", f"ran past {self.timeout:.0f} s")
        out = r.stdout + r.stderr
        for name, real in self.made.items():
            if isinstance(real, Path):
                out = out.replace(str(real), name)
        out = out.replace(str(where) + "/", "").replace(str(self.dir) + "/", "")
        actual = out.split("\n")
        if "\n" in cmd.text and not cmd.python:   # the `$ echo $?` the page shows between the outputs
            actual = self._interleave(cmd, r.stdout, r.stderr, where)
        diff = compare(cmd, actual)
        return Result(block, cmd, "differs" if diff else "equal", actual=actual, diff=diff, width=width)

    def _interleave(self, cmd: Command, stdout: str, stderr: str, where: Path) -> list[str]:
        # `paramscope …` then `echo $?`: the status is the last line of stdout
        out = stdout.rstrip("\n").split("\n")
        status = out.pop()
        body = "\n".join(out) + ("\n" if out and out != [""] else "") + stderr
        for name, real in self.made.items():
            if isinstance(real, Path):
                body = body.replace(str(real), name)
        body = body.replace(str(where) + "/", "").replace(str(self.dir) + "/", "")
        lines = body.rstrip("\n").split("\n") if body.strip() else []
        echo = [ln for ln in cmd.expected if ln.startswith("$ echo $?")]
        return [*lines, *echo, status]


def is_cheap(cmd: Command) -> bool:
    names, why = needs(cmd)
    return why is None and not names & REAL_FILES


# --- links --------------------------------------------------------------------------------------------

def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation but - and _ dropped, spaces to -."""
    h = re.sub(r"`|\*\*|\[|\]\([^)]*\)", "", heading.strip().lower())
    h = re.sub(r"[^\w\- ]", "", h)
    return h.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    out: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for ln in page.read_text().split("\n"):
        if ln.startswith("```"):
            fenced = not fenced
        if not fenced and re.match(r"#{1,6} ", ln):
            s = slug(ln.lstrip("#"))
            n = seen.get(s, 0)
            seen[s] = n + 1
            out.add(s if n == 0 else f"{s}-{n}")
    return out


def broken_links(page: Path) -> list[str]:
    bad = []
    fenced = False
    for no, ln in enumerate(page.read_text().split("\n"), 1):
        if ln.startswith("```"):
            fenced = not fenced
        if fenced:
            continue
        ln = re.sub(r"`[^`]*`", "", ln)
        for target in re.findall(r"\]\(([^)\s]+)\)", ln):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                bad.append(f"{page.relative_to(ROOT)}:{no}: {target}: no such file")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                bad.append(f"{page.relative_to(ROOT)}:{no}: {target}: no heading #{anchor} in {dest.name}")
    return bad


# --- writing ------------------------------------------------------------------------------------------

def write(page: Path, results: list[Result]) -> int:
    """Paste today's output over the stale outputs of the page (whole outputs only: an excerpt is left
    for a person to choose from); machine-dependent lines keep the page's version."""
    lines = page.read_text().split("\n")
    n = 0
    for r in sorted(results, key=lambda r: -r.command.out_start):
        c = r.command
        elided = any(x.strip() == ELISION for x in c.expected)
        if r.status != "differs" or c.excerpt or elided or ("\n" in c.text and not c.python):
            continue
        new = [a.rstrip() for a in r.actual]
        while new and not new[-1]:
            new.pop()
        old = [e.rstrip() for e in c.expected]
        used: set[int] = set()
        for i, a in enumerate(new):      # a machine-dependent line keeps the page's version
            rule = _machine_rule(c.text, a)
            if rule is None:
                continue
            k = next((k for k, e in enumerate(old)
                      if k not in used and _machine_rule(c.text, e) == rule), None)
            if k is not None:
                used.add(k)
                new[i] = old[k]
        last = max((i for i, x in enumerate(old) if x.strip()), default=-1)
        lines[c.out_start:c.out_start + last + 1] = new
        n += 1
    page.write_text("\n".join(lines))
    return n


def pages(args: list[str]) -> list[Path]:
    if args:
        return [Path(a).resolve() for a in args]
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def check(todo: list[Path], runner: Runner, only: str | None = None, jobs: int = 1) -> list[Result]:
    """Every command of the pages (only the cheap ones with only="cheap"), in page order. The pages
    run up to ``jobs`` at once (each command is a subprocess: threads are enough); the commands of one
    page one after the other, as the page shows them (zoo.md's second run resumes the first)."""
    from concurrent.futures import ThreadPoolExecutor

    per_page = [[(b, c) for b in blocks(p) for c in b.commands if only != "cheap" or is_cheap(c)]
                for p in todo]
    for page in per_page:           # the fixtures first, one at a time
        for _, c in page:
            names, why = needs(c)
            for n in sorted(names) if why is None else ():
                runner.fixture(n)

    def run_page(page: list[tuple[Block, Command]]) -> list[Result]:
        return [runner.run(b, c) for b, c in page]

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        return [r for rs in pool.map(run_page, per_page) for r in rs]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pages", nargs="*", help="pages to check (default: README.md and docs/*.md)")
    ap.add_argument("-v", "--verbose", action="store_true", help="a short diff per stale block")
    ap.add_argument("--only", choices=["cheap"], help="cheap: no real model file, network or benchmark")
    ap.add_argument("--write", action="store_true", help="paste today's output into stale blocks")
    ap.add_argument("--links", action="store_true", help="check links only")
    ap.add_argument("-j", "--jobs", type=int, default=1, help="commands run at once")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--python", default=sys.executable)
    a = ap.parse_args(argv)
    todo = pages(a.pages)
    bad = [b for p in todo for b in broken_links(p)]
    for b in bad:
        print(f"broken link: {b}")
    if a.links:
        return 1 if bad else 0
    runner = Runner(a.python, a.timeout)
    counts: dict[str, int] = {}
    results = check(todo, runner, a.only, a.jobs)
    for r in results:
        cmd, p = r.command, r.block.page
        counts[r.status] = counts.get(r.status, 0) + 1
        shown = cmd.shown.split("\n")[0]
        why = f": {r.why}" if r.why else ""
        print(f"{p.relative_to(ROOT)}:{cmd.line}: {r.status}{why}  (COLUMNS={r.width or '-'}) $ {shown}")
        if a.verbose and r.diff:
            for d in r.diff[:24]:
                print(f"    {d}")
            if len(r.diff) > 24:
                print(f"    … {len(r.diff) - 24} more diff lines")
    if a.write:
        for p in todo:
            n = write(p, [r for r in results if r.block.page == p])
            if n:
                print(f"{p.relative_to(ROOT)}: {n} outputs written")
    print(", ".join(f"{v} {k}" for k, v in sorted(counts.items())) + f", {len(bad)} broken links")
    return 1 if counts.get("differs") or bad else 0


if __name__ == "__main__":
    sys.exit(main())
