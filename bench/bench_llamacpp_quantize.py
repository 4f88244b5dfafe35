"""llama-quantize's type for every tensor against paramscope's recipe, on small random GGUFs, recorded for CI.

Writes the F16 GGUFs of bench/llamacpp_ggufs.py (llama, qwen2, gemma3, qwen3, a Mixtral-style llama,
qwen3moe, phi3 with its fused attn_qkv, gpt-oss, and a llama mixing attn_qkv, attn_v and attn_kv_b layers
that only the quantizer reads; random weights) and quantizes each with the C library's own quantizer
(llama-cpp-python's ``llama_model_quantize``, what the llama-quantize tool calls) at every
file type it makes without an importance matrix, and with one (IMATRIX_FILE_TYPES) at those that need one
and those whose rules read it, in llama-cpp-python's environment (--llama-python,
default $LLAMA_PYTHON or /tmp/llamavenv/bin/python), one subprocess each. It reads each output's tensor
types with gguf-py and compares them, tensor by tensor, with paramscope's ``reprice`` of the same F16
file at the same scheme, by today's recipe and by the one before PR #19770 (``_before_2026_03``): it
prints which recipe the library follows and every tensor neither gives. With --record it writes
tests/fixtures/llamacpp_quantize_types.json (the library's version and every tensor's type) for
tests/test_llamacpp_quantize_types.py, which compares without llama.cpp.

    .venv/bin/python bench/bench_llamacpp_quantize.py [--record] [--arch NAME] [--llama-python PATH]

The child half (``--child``) imports only the standard library and llama_cpp.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURE = HERE.parent / "tests" / "fixtures" / "llamacpp_quantize_types.json"

# llama-quantize's file types that need no importance matrix (tensor_requires_imatrix), and MXFP4_MOE for
# the models with experts. TQ1_0/TQ2_0 and Q1_0/Q2_0 (ternary and binary research types) are left out.
FILE_TYPES = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S",
              "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ4_NL", "IQ4_XS", "IQ3_S", "IQ3_M"]
MOE_FILE_TYPES = ["MXFP4_MOE"]
# With an importance matrix (every weight but the token embedding, as llama-imatrix writes one; its values
# do not choose types, its presence does): the file types that need one, and those whose rules read it,
# recorded as "<TYPE>_IMATRIX", the spelling paramscope prices them by.
IMATRIX_FILE_TYPES = ["IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ1_S", "IQ1_M", "IQ3_XXS", "IQ3_XS", "Q2_K_S",
                      "Q4_0", "Q5_0", "IQ4_NL", "IQ4_XS", "Q4_K_M"]
NEEDS_IMATRIX = {"IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ1_S", "IQ1_M", "IQ3_XXS", "IQ3_XS", "Q2_K_S"}


# ---------------------------------------------------------------- child: runs under llama-cpp-python

def child(inp: str, out: str, ftype: str, imatrix: dict[str, int]) -> None:
    import ctypes

    import llama_cpp
    import llama_cpp.llama_cpp as low

    low.llama_backend_init()
    params = low.llama_model_quantize_default_params()
    params.ftype = getattr(low, "LLAMA_FTYPE_MOSTLY_" + ftype)
    params.nthread = 2
    if imatrix:  # name -> values (ne[0] × ne[2]), all ones; a zeroed entry ends the array
        entries = (low.llama_model_imatrix_data * (len(imatrix) + 1))()
        keep = []
        for e, (name, size) in zip(entries, imatrix.items(), strict=False):
            values = (ctypes.c_float * size)(*([1.0] * size))
            keep.append(values)
            e.name, e.data, e.size = name.encode(), ctypes.cast(values, ctypes.POINTER(ctypes.c_float)), size
        params.imatrix = ctypes.cast(entries, ctypes.POINTER(low.llama_model_imatrix_data))
    rc = low.llama_model_quantize(inp.encode(), out.encode(), ctypes.byref(params))
    if rc != 0:
        raise SystemExit(f"llama_model_quantize failed ({rc})")
    print(json.dumps({"version": llama_cpp.__version__}), flush=True)


# ---------------------------------------------------------------- parent: runs under paramscope

def quantize(python: str, inp: Path, out: Path, ftype: str, imatrix: dict[str, int] | None = None) -> str:
    args = [python, __file__, "--child", "--model", str(inp), "--out", str(out), "--ftype", ftype,
            "--imatrix", json.dumps(imatrix or {})]
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        log = (proc.stderr + proc.stdout)[-3000:]
        raise SystemExit(f"quantizing to {ftype} failed ({proc.returncode}): {log}")
    return json.loads(proc.stdout.strip().splitlines()[-1])["version"]


def stored_types(path: Path) -> dict[str, str]:
    import gguf

    return {t.name: t.tensor_type.name for t in gguf.GGUFReader(str(path)).tensors}


def predicted_types(model, scheme: str) -> dict[str, str]:
    from paramscope.analyses.sizing.weights import reprice

    return {row.name: row.type for row in reprice(model, scheme).rows}


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(HERE))
    import llamacpp_ggufs
    import paramscope

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--record", action="store_true", help=f"write {FIXTURE.relative_to(HERE.parent)}")
    parser.add_argument("--arch", action="append", help="only these architectures (repeatable)")
    parser.add_argument("--llama-python", default=os.environ.get("LLAMA_PYTHON", "/tmp/llamavenv/bin/python"))
    args = parser.parse_args(argv)
    recipes = {**llamacpp_ggufs.ARCHS, **llamacpp_ggufs.QUANTIZE_ONLY}
    archs = args.arch or list(recipes)
    recorded: dict = json.loads(FIXTURE.read_text()) if FIXTURE.exists() else {"archs": {}}
    differences = {"": 0, "_before_2026_03": 0}  # files whose types a recipe misses, by its suffix
    with tempfile.TemporaryDirectory() as tmp:
        for arch in archs:
            recipe = recipes[arch]
            f16 = Path(tmp) / f"{arch}-f16.gguf"
            llamacpp_ggufs.write_gguf(recipe, f16)
            model = paramscope.open_model(str(f16))
            types: dict[str, dict[str, str]] = {}
            imatrix = {name: shape[-1] * (shape[0] if len(shape) == 3 else 1)
                       for name, shape, kind in llamacpp_ggufs.tensor_specs(recipe)
                       if kind == "mat" and name != "token_embd.weight"}
            cases = [(f, f, None) for f in FILE_TYPES + (MOE_FILE_TYPES if recipe.get("n_expert") else [])]
            cases += [(f if f in NEEDS_IMATRIX else f + "_IMATRIX", f, imatrix) for f in IMATRIX_FILE_TYPES]
            for ftype, made_as, im in cases:
                out = Path(tmp) / f"{arch}-{ftype}.gguf"
                version = quantize(args.llama_python, f16, out, made_as, im)
                got = stored_types(out)
                out.unlink()
                types[ftype] = got
                for suffix in differences:
                    want = predicted_types(model, ftype + suffix)
                    wrong = {n: (got.get(n), want.get(n)) for n in set(got) | set(want)
                             if got.get(n) != want.get(n)}
                    print(f"{arch:9} {ftype:9} {suffix or 'today':15} "
                          f"{'same' if not wrong else f'{len(wrong)} differ: {sorted(wrong.items())[:3]}'}")
                    differences[suffix] += bool(wrong)
            recorded["archs"][arch] = {"recipe": recipe, "types": types}
            recorded["version"] = version
    followed = [suffix for suffix, n in differences.items() if n == 0]
    print(f"llama-cpp-python {version}: every tensor as paramscope's recipe "
          f"{' and '.join(repr(f or 'today') for f in followed) if followed else 'by neither recipe'}")
    if args.record and followed:
        recorded["recipe_suffix"] = followed[0]
        FIXTURE.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
        print(f"wrote {FIXTURE}")
    return 0 if followed else 1


if __name__ == "__main__":
    if "--child" in sys.argv:
        p = argparse.ArgumentParser()
        p.add_argument("--child", action="store_true")
        p.add_argument("--model")
        p.add_argument("--out")
        p.add_argument("--ftype")
        p.add_argument("--imatrix", default="{}")
        a = p.parse_args()
        child(a.model, a.out, a.ftype, json.loads(a.imatrix))
    else:
        sys.exit(main())
