"""Every ``tokenizer.ggml.pre`` paramscope accepts, checked against llama.cpp: the llama-bpe vocabulary
(byte-level, all 256 bytes, 280k merges) rewritten with each pre-tokenizer name (and, for the
SentencePiece-style ones, the gemma-4 vocabulary as a "gpt2" model), tokenized by llama.cpp and by
paramscope on the texts of bench/make_vocab_fixture.py.

    python bench/llamacpp_pre_sweep.py VOCAB_DIR --llama-python LLAMA_VENV/bin/python [--work DIR]
        [--only NAME …]
    python bench/llamacpp_pre_sweep.py VOCAB_DIR --llama-python … \\
        --record tests/fixtures/llamacpp_pre_ids.json

Writes the variants with the gguf library (gguf_new_metadata's copy), asks llama-cpp-python (run under
its own interpreter, given as --llama-python) for its IDs, and prints, per name, how many texts differ.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

LLAMA_SIDE = """
import json, sys, llama_cpp
texts = json.load(open(sys.argv[1]))
add_bos = sys.argv[3] == "add_bos"
out = {}
for path in sys.argv[4:]:
    try:
        llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
        out[path] = [llm.tokenize(t.encode(), add_bos=add_bos, special=False) for t in texts]
    except Exception as e:
        out[path] = str(e)
json.dump(out, open(sys.argv[2], "w"))
"""


def variant(src: Path, dest: Path, pre: str, model: str | None = None) -> Path:
    import gguf
    from gguf.scripts.gguf_new_metadata import MetadataDetails, copy_with_new_metadata

    if dest.exists():
        return dest
    reader = gguf.GGUFReader(src, "r")
    arch = reader.get_field(gguf.Keys.General.ARCHITECTURE)
    writer = gguf.GGUFWriter(dest, arch=arch.contents() if arch else "llama", endianess=reader.endianess)
    new = {gguf.Keys.Tokenizer.PRE: MetadataDetails(gguf.GGUFValueType.STRING, pre)}
    if model:
        new[gguf.Keys.Tokenizer.MODEL] = MetadataDetails(gguf.GGUFValueType.STRING, model)
    copy_with_new_metadata(reader, writer, new, [])
    return dest


def representatives() -> list[str]:
    """One name per byte-level pre-tokenizer behaviour (expressions, ignore_merges)."""
    from paramscope.tokenize.bpe_pre import PRE_NAMES

    seen: dict[tuple, str] = {}
    for name, pre in PRE_NAMES.items():
        if not pre.spm_style:
            seen.setdefault((pre.kind, pre.ignore_merges), name)
    return list(seen.values())


def record(args: argparse.Namespace) -> int:
    """tests/fixtures/llamacpp_pre_ids.json: llama.cpp's IDs (add_special off) for the llama-bpe
    vocabulary under one name of each pre-tokenizer behaviour, on the targeted and random texts of
    bench/make_vocab_fixture.py. The test swaps only the pre-tokenizer of one built engine."""
    from make_vocab_fixture import N_RANDOM, SEED, TARGETED, random_texts

    names = representatives()
    base = args.vocab_dir / "ggml-vocab-llama-bpe.gguf"
    paths = {n: variant(base, args.work / f"{n}.gguf", n) for n in names}
    texts = list(dict.fromkeys(TARGETED + random_texts(N_RANDOM, SEED)))
    (args.work / "texts.json").write_text(json.dumps(texts))
    subprocess.run([args.llama_python, "-c", LLAMA_SIDE, str(args.work / "texts.json"),
                    str(args.work / "ids.json"), "no_bos", *map(str, paths.values())], check=True)
    ref = json.loads((args.work / "ids.json").read_text())
    fixture = {"source": "llama-cpp-python 0.3.36, Llama.tokenize(text, add_bos=False, special=False) on "
                         "ggml-vocab-llama-bpe.gguf with tokenizer.ggml.pre set to each name",
               "texts": texts, "ids": {n: ref[str(p)] for n, p in paths.items()}}
    args.record.write_text(json.dumps(fixture, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"{args.record}: {len(texts)} texts x {len(names)} pre-tokenizers", file=sys.stderr)
    return 0


def main() -> int:
    import paramscope
    from make_vocab_fixture import all_texts
    from paramscope.errors import ParamscopeError
    from paramscope.tokenize.bpe_pre import PRE_NAMES

    ap = argparse.ArgumentParser()
    ap.add_argument("vocab_dir", type=Path)
    ap.add_argument("--llama-python", required=True)
    ap.add_argument("--work", type=Path, default=Path("/tmp/pre_sweep"))
    ap.add_argument("--only", nargs="*", help="these pre-tokenizer names only")
    ap.add_argument("--record", type=Path, help="write the fixture of the test instead (see record())")
    args = ap.parse_args()
    if args.record:
        return record(args)
    args.work.mkdir(exist_ok=True)
    paths = {}
    for name, pre in PRE_NAMES.items():
        if args.only and name not in args.only:
            continue
        base = "gemma-4" if pre.spm_style else "llama-bpe"
        paths[name] = variant(args.vocab_dir / f"ggml-vocab-{base}.gguf", args.work / f"{name}.gguf", name,
                              "gpt2" if pre.spm_style else None)
    texts = all_texts()
    (args.work / "texts.json").write_text(json.dumps(texts))
    subprocess.run([args.llama_python, "-c", LLAMA_SIDE, str(args.work / "texts.json"),
                    str(args.work / "ids.json"), "add_bos", *map(str, paths.values())], check=True)
    ref = json.loads((args.work / "ids.json").read_text())
    bad_total = 0
    for name, path in paths.items():
        want = ref[str(path)]
        if isinstance(want, str):
            print(f"{name:26} llama.cpp refused: {want}")
            continue
        try:
            tok = paramscope.tokenizer(path)
        except ParamscopeError as e:
            print(f"{name:26} paramscope refused: {e}")
            continue
        bad = [(t, g, w) for t, w in zip(texts, want, strict=True) if (g := tok.ids(t)) != w]
        bad_total += len(bad)
        print(f"{name:26} {len(texts) - len(bad)}/{len(texts)}")
        for t, g, w in bad[:3]:
            i = next((k for k, (a, b) in enumerate(zip(g, w, strict=False)) if a != b), min(len(g), len(w)))
            print(f"    {t!r:.60}\n      got  {[tok.token_text(x) for x in g[i:i + 5]]}"
                  f"\n      want {[tok.token_text(x) for x in w[i:i + 5]]}")
    return 1 if bad_total else 0


if __name__ == "__main__":
    raise SystemExit(main())
