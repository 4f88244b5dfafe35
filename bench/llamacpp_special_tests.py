"""paramscope against tests/fixtures/llamacpp_special_ids.json (bench/make_special_fixture.py): per
vocabulary, how many texts with special tokens written in them give llama.cpp's IDs, three ways
(special tokens parsed with BOS/EOS added, parsed without, not parsed). A paramscope without
``parse_special`` (before it existed) is measured as it was: special tokens never parsed.

    python bench/llamacpp_special_tests.py VOCAB_DIR GEMMA_GGUF [-v]
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "llamacpp_special_ids.json"
WAYS = {"special": (True, True), "special_bare": (False, True), "plain": (True, False)}


def main() -> None:
    import paramscope

    folder, gemma = Path(sys.argv[1]), Path(sys.argv[2])
    verbose = "-v" in sys.argv
    recorded = json.loads(FIXTURE.read_text(encoding="utf-8"))["vocabs"]
    total = {w: [0, 0] for w in WAYS}
    for name, rec in recorded.items():
        tok = paramscope.tokenizer(gemma if name == gemma.name else folder / name)
        parses = "parse_special" in inspect.signature(tok.ids).parameters
        line = []
        for way, (add, parse) in WAYS.items():
            bad, n = [], 0
            for text, want in zip(rec["texts"], rec[way], strict=True):
                if want is None:
                    continue
                n += 1
                got = tok.ids(text, add, parse_special=parse) if parses else tok.ids(text, add)
                if got != want:
                    bad.append((text, got, want))
            total[way][0] += n - len(bad)
            total[way][1] += n
            line.append(f"{way} {n - len(bad)}/{n}")
            if verbose:
                for text, got, want in bad[:3]:
                    print(f"    {way} {text!r:.70}\n      got  {got[:16]}\n      want {want[:16]}")
        print(f"{name:34} " + "  ".join(line))
    print("total", "  ".join(f"{w} {a}/{b}" for w, (a, b) in total.items()))


if __name__ == "__main__":
    main()
