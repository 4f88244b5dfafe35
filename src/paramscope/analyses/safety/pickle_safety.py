"""Could loading this pickle run code? A verdict from the globals it names, never from running it.

``torch.load(path, weights_only=False)`` (and ``pickle.load``) imports every global a pickle names and
calls the ones it reduces: ``os.system("…")`` in a checkpoint runs when it is loaded. Importing a module
alone runs that module's code, so any global outside a known list could run code. The lists:

- ``ALLOWED``: what ``torch.load(weights_only=True)`` accepts by default (torch 2.13
  ``torch/_weights_only_unpickler.py`` ``_get_allowed_globals``): rebuild functions, storage and tensor
  types, dtypes, ``OrderedDict``. A file naming only these is **safe**.
- ``HARMLESS``: standard-library and numpy constructors that only build data (a numpy array, an
  ``argparse.Namespace`` of hyperparameters); weights_only=True refuses them, but they run no code of the
  file's choosing. A file naming these too is **harmless**.
- anything else **could run code**; ``DANGEROUS`` names why for the usual payloads (picklescan's and
  fickling's lists of unsafe globals are the same idea).

A file whose pickles cannot all be read to the end, or could be read two ways (a FRAME that disagrees
with its opcodes, data after STOP, a zip whose local headers and central directory disagree, an
encrypted member, an object array too large to read) is **unverified**, and its verdict is "could run
code" too: the scan cannot show that loading stays within what it read.

Exit status (docs/security.md): 0 read completely and safe (or a format that carries no code); 2 could
run code, or holds pickle data that cannot be verified; 1 not a pickle-based file, or cannot be opened.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from paramscope.records import record

if TYPE_CHECKING:
    from paramscope.model import Model

SAFE, HARMLESS, UNSAFE, UNREADABLE = "safe", "harmless", "could run code", "unreadable"
# loading runs no code, but the file holds code that runs later and that the scan does not judge
SAFE_TO_LOAD = "safe to load"
# a folder search found the file by its first bytes (a zip, a .npy, a pickle's PROTO) but it holds no
# pickle: no loader unpickles anything from it, and the scan judges only pickle-based files (exit 0)
SKIPPED = "skipped"
ALLOWED_STATUS, HARMLESS_STATUS = "allowed", "harmless"
DANGEROUS_STATUS, UNKNOWN_STATUS = "dangerous", "unknown"

_REBUILDS = ("_rebuild_parameter", "_rebuild_parameter_with_state", "_rebuild_qtensor", "_rebuild_tensor",
             "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_sparse_tensor",
             "_rebuild_meta_tensor_no_storage", "_rebuild_nested_tensor", "_rebuild_wrapper_subclass",
             "_rebuild_device_tensor_from_numpy", "_rebuild_device_tensor_from_cpu_tensor")
_STORAGE_KINDS = ("Double", "Float", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool",
                  "ComplexFloat", "ComplexDouble")
_QUANT_STORAGES = ("QInt8", "QUInt8", "QInt32", "QUInt4x2", "QUInt2x4")
_TENSOR_KINDS = ("Double", "Float", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool")
_DTYPES = ("float64", "double", "float32", "float", "float16", "half", "bfloat16", "int64", "long",
           "int32", "int", "int16", "short", "int8", "uint8", "bool", "complex32", "chalf", "complex64",
           "cfloat", "complex128", "cdouble", "qint8", "qint32", "quint8", "quint4x2", "quint2x4",
           "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu",
           "float4_e2m1fn_x2", "bits1x8", "bits2x4", "bits4x2", "bits8", "bits16",
           *(f"uint{n}" for n in range(1, 8)), *(f"int{n}" for n in range(1, 8)),
           "uint16", "uint32", "uint64")
_QSCHEMES = ("per_tensor_affine", "per_tensor_symmetric", "per_channel_affine", "per_channel_symmetric",
             "per_channel_affine_float_qparams")

ALLOWED: frozenset[tuple[str, str]] = frozenset({
    ("collections", "OrderedDict"), ("collections", "Counter"), ("torch.nn.parameter", "Parameter"),
    ("torch.serialization", "_get_layout"), ("torch", "Size"), ("torch", "Tensor"), ("torch", "device"),
    ("_codecs", "encode"), ("builtins", "bytearray"), ("builtins", "set"), ("builtins", "complex"),
    ("torch.storage", "UntypedStorage"), ("torch.storage", "TypedStorage"),
    ("torch._tensor", "_rebuild_from_type_v2"),
    *(("torch._utils", f) for f in _REBUILDS),
    *((m, f"{k}Storage") for m in ("torch", "torch.cuda") for k in (*_STORAGE_KINDS, *_QUANT_STORAGES)),
    *((m, f"{k}Tensor") for m in ("torch", "torch.cuda") for k in _TENSOR_KINDS),
    *(("torch", d) for d in _DTYPES),
    *(("torch", q) for q in _QSCHEMES),
})

HARMLESS_GLOBALS: frozenset[tuple[str, str]] = frozenset({
    ("builtins", "frozenset"), ("builtins", "slice"), ("builtins", "range"), ("builtins", "dict"),
    ("builtins", "list"), ("builtins", "tuple"), ("builtins", "int"), ("builtins", "float"),
    ("builtins", "str"), ("builtins", "bytes"), ("builtins", "bool"), ("builtins", "object"),
    ("copyreg", "_reconstructor"),  # object.__new__(cls): the class is judged on its own
    ("collections", "defaultdict"), ("collections", "deque"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("argparse", "Namespace"), ("pathlib", "PosixPath"), ("pathlib", "WindowsPath"),
    ("pathlib", "PurePosixPath"), ("pathlib", "PureWindowsPath"),
    ("datetime", "datetime"), ("datetime", "date"), ("datetime", "timedelta"), ("decimal", "Decimal"),
})

EXTENSION_PREFIX = "_inverted_registry["  # pickle_vm's name for an EXT opcode's global

# Why a global is dangerous: whole modules first, then single names.
DANGEROUS_MODULES: dict[str, str] = {
    "os": "operating-system calls (os.system runs a shell command)",
    "posix": "operating-system calls (posix.system runs a shell command)",
    "nt": "operating-system calls (nt.system runs a shell command)",
    "subprocess": "runs programs", "pty": "runs programs", "commands": "runs shell commands",
    "popen2": "runs programs", "sys": "interpreter internals", "runpy": "runs Python modules",
    "importlib": "imports arbitrary modules", "imp": "imports arbitrary modules",
    "ctypes": "calls native code", "_ctypes": "calls native code", "shutil": "moves and deletes files",
    "socket": "opens network connections", "urllib": "opens network connections",
    "urllib.request": "opens network connections", "requests": "opens network connections",
    "http.client": "opens network connections", "ftplib": "opens network connections",
    "smtplib": "sends mail", "telnetlib": "opens network connections", "webbrowser": "opens a browser",
    "code": "runs Python code", "codeop": "compiles Python code", "pdb": "runs a debugger",
    "multiprocessing": "starts processes", "asyncio": "starts processes and connections",
    "pickle": "unpickles nested data without restriction", "_pickle": "unpickles nested data",
    "marshal": "loads code objects", "dill": "unpickles code", "cloudpickle": "unpickles code",
    "types": "builds code and function objects", "signal": "changes process signals",
}
DANGEROUS: dict[tuple[str, str], str] = {
    ("builtins", "exec"): "runs Python code", ("builtins", "eval"): "runs Python code",
    ("builtins", "compile"): "compiles Python code", ("builtins", "__import__"): "imports any module",
    ("builtins", "open"): "opens files", ("builtins", "getattr"): "reaches any attribute",
    ("builtins", "setattr"): "changes any attribute", ("builtins", "delattr"): "deletes any attribute",
    ("builtins", "globals"): "reaches interpreter globals", ("builtins", "vars"): "reaches namespaces",
    ("builtins", "breakpoint"): "starts a debugger", ("builtins", "input"): "reads the terminal",
    ("builtins", "execfile"): "runs a Python file", ("builtins", "apply"): "calls any callable",
    ("operator", "attrgetter"): "reaches any attribute", ("operator", "methodcaller"): "calls any method",
    ("functools", "partial"): "calls any callable",
    ("torch.storage", "_load_from_bytes"): "loads a nested checkpoint with torch.load(weights_only=False)",
    ("torch", "load"): "loads a nested checkpoint",
    ("torch.serialization", "load"): "loads a nested checkpoint",
    ("numpy", "load"): "may unpickle a nested file",
    ("numpy.lib.npyio", "load"): "may unpickle a nested file",
    ("torch.hub", "load"): "downloads and runs code", ("torch.jit", "load"): "loads TorchScript code",
}


@record
class GlobalVerdict:
    module: str
    name: str
    status: str  # allowed | harmless | dangerous | unknown
    reason: str
    count: int = 1
    calls: int = 0

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"


@record
class Verdict:
    source: str
    globals: tuple[GlobalVerdict, ...]
    error: str | None = None  # not a pickle-based file, or it cannot be opened: why (exit 1)
    not_pickle: str | None = None  # the format the file is instead (GGUF, safetensors, ONNX carry no code)
    unverified: tuple[str, ...] = ()  # why what loading runs could differ from what was read (exit 2)
    # code the file holds that runs after loading, not on it, and that the scan does not judge (a GGUF
    # chat template: a Jinja program chat front ends render; CVE-2024-34359, CVE-2026-5760)
    not_judged: tuple[str, ...] = ()
    skipped: str | None = None  # found by a folder search by its first bytes, it holds no pickle: why

    @property
    def flagged(self) -> tuple[GlobalVerdict, ...]:
        """Dangerous globals first, then unknown ones."""
        bad = [g for g in self.globals if g.status in (DANGEROUS_STATUS, UNKNOWN_STATUS)]
        return tuple(sorted(bad, key=lambda g: g.status != DANGEROUS_STATUS))

    @property
    def status(self) -> str:
        if self.flagged or self.unverified:
            return UNSAFE
        # an error is never hidden by "skipped" (exit 1, not 0): only a file read whole and shown to hold
        # nothing any loader takes code from is skipped (red team round 6: a .keras zip "with no pickle")
        if self.error:
            return UNREADABLE
        if self.skipped:
            return SKIPPED
        if self.not_judged:
            return SAFE_TO_LOAD
        return HARMLESS if any(g.status == HARMLESS_STATUS for g in self.globals) else SAFE

    @property
    def could_run_code(self) -> bool:
        return self.status == UNSAFE

    @property
    def exit_code(self) -> int:
        """2 when loading could run code (or cannot be verified), 1 when the file is not pickle-based or
        cannot be opened, 0 when it is safe (to load: what runs later is named in ``not_judged``)."""
        return {UNSAFE: 2, UNREADABLE: 1}.get(self.status, 0)

    @property
    def summary(self) -> str:
        """One line: the verdict and the globals behind it."""
        if self.could_run_code and self.flagged:
            names = ", ".join(g.qualname for g in self.flagged[:3])
            more = f" (and {len(self.flagged) - 3} more)" if len(self.flagged) > 3 else ""
            return f"loading it with torch.load(weights_only=False) could run code: {names}{more}"
        if self.could_run_code:
            more = f" (and {len(self.unverified) - 1} more)" if len(self.unverified) > 1 else ""
            return f"could run code: cannot be verified: {self.unverified[0]}{more}"
        if self.error:
            return f"unreadable: {self.error}"
        if self.skipped:
            return f"skipped: {self.skipped}"
        if self.not_pickle and self.not_judged:
            return (f"{SAFE_TO_LOAD}: a {self.not_pickle} file, not a pickle; not judged: "
                    + "; ".join(self.not_judged))
        if self.not_pickle:
            return f"safe: a {self.not_pickle} file, not a pickle (it carries no code)"
        if self.status == HARMLESS:
            extra = ", ".join(g.qualname for g in self.globals if g.status == HARMLESS_STATUS)
            return f"no code runs on loading; torch.load(weights_only=True) refuses {extra}"
        return "safe: every global it names is one torch.load(weights_only=True) accepts"


def classify(module: str, name: str) -> tuple[str, str]:
    """(status, reason) for one global, exactly as named: no dotted-name resolution is assumed."""
    key = (module, name)
    if module == "copyreg" and name.startswith(EXTENSION_PREFIX):
        return DANGEROUS_STATUS, ("an EXT opcode: whatever global the loading process registered under "
                                  "this code with copyreg.add_extension")
    if key in ALLOWED:
        return ALLOWED_STATUS, "accepted by torch.load(weights_only=True)"
    if key in DANGEROUS:
        return DANGEROUS_STATUS, DANGEROUS[key]
    top = module.split(".")[0]
    reason = DANGEROUS_MODULES.get(module) or DANGEROUS_MODULES.get(top)
    if reason:
        return DANGEROUS_STATUS, reason
    if key in HARMLESS_GLOBALS:
        return HARMLESS_STATUS, "builds data only; refused by torch.load(weights_only=True)"
    return UNKNOWN_STATUS, "not on any allow list: importing or calling it could run any code"


def judge(source: str, references: Iterable[tuple[str, str, int, int]], error: str | None = None,
          not_pickle: str | None = None, unverified: Iterable[str] = (),
          not_judged: Iterable[str] = (), skipped: str | None = None) -> Verdict:
    """The verdict for (module, name, times named, times called) references."""
    rows = tuple(GlobalVerdict(m, n, *classify(m, n), count, calls) for m, n, count, calls in references)
    return Verdict(source, rows, error, not_pickle, tuple(unverified), tuple(not_judged), skipped)


def assess(model: Model) -> Verdict | None:
    """The verdict for a model read from a pickle (``metadata["pickle_globals"]``); None otherwise."""
    refs = model.metadata.get("pickle_globals")
    if refs is None:
        return None
    return judge(model.source, (_ref(r) for r in refs))


def _ref(r: Mapping[str, Any]) -> tuple[str, str, int, int]:
    return str(r["module"]), str(r["name"]), int(r.get("count", 1)), int(r.get("calls", 0))


# GGUF keys holding Jinja chat templates: llama.cpp's tokenizer.chat_template, and its named ones
# (tokenizer.chat_template.tool_use, …; gguf-py constants.py Keys.Tokenizer.CHAT_TEMPLATE[_N])
CHAT_TEMPLATE = "tokenizer.chat_template"


def templates_in(metadata: Mapping[str, object]) -> tuple[str, ...]:
    """The chat templates of a GGUF's metadata, each named as the scan leaves it: a template is a Jinja
    program rendered when a prompt is formatted, after loading; front ends that rendered it outside
    Jinja's sandbox ran code of the file's choosing (llama-cpp-python < 0.2.72, CVE-2024-34359;
    SGLang, CVE-2026-5760). The scan reads no Jinja, so it says so rather than call the file code-free."""
    keys = [k for k in metadata if k == CHAT_TEMPLATE or k.startswith(CHAT_TEMPLATE + ".")]
    return tuple(f"{k} (a Jinja program chat front ends run; the scan does not read Jinja)"
                 for k in sorted(keys))
