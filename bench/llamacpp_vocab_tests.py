"""Run paramscope's GGUF tokenizer on llama.cpp's own tokenizer test vectors (models/ggml-vocab-*.gguf
with .gguf.inp / .gguf.out, the format of llama.cpp's tests/test-tokenizer-0.cpp: inputs separated by
"\\n__ggml_vocab_test__\\n", one line of expected IDs per input, tokenized with add_special=false and
parse_special=false) and print, per vocabulary, how many inputs give other IDs.

    python bench/llamacpp_vocab_tests.py DIR [-v]     # DIR holds the ggml-vocab-* files
"""

from __future__ import annotations

import sys
from pathlib import Path

SEP = b"\n__ggml_vocab_test__\n"


def read_cases(vocab: Path) -> list[tuple[str, list[int]]]:
    raw = Path(str(vocab) + ".inp").read_bytes()
    outs = Path(str(vocab) + ".out").read_text().splitlines()
    inputs = raw.split(SEP)
    if inputs and not inputs[-1]:  # the C++ reader stops at the end: no empty input after a last marker
        inputs.pop()
    assert len(inputs) == len(outs), vocab
    return [(i.decode("utf-8", "replace"), [int(x) for x in o.split()])
            for i, o in zip(inputs, outs, strict=True)]


def main() -> None:
    import paramscope
    from paramscope.errors import ParamscopeError

    folder = Path(sys.argv[1])
    verbose = "-v" in sys.argv
    for vocab in sorted(folder.glob("ggml-vocab-*.gguf")):
        if not Path(str(vocab) + ".inp").exists():
            print(f"{vocab.name:34} no test vectors")
            continue
        cases = read_cases(vocab)
        try:
            tok = paramscope.tokenizer(vocab)
        except ParamscopeError as e:
            print(f"{vocab.name:34} refused: {e}")
            continue
        got = [tok.ids(t, add_special=False) for t, _ in cases]
        bad = [(t, g, ids) for (t, ids), g in zip(cases, got, strict=True) if g != ids]
        print(f"{vocab.name:34} {len(cases) - len(bad)}/{len(cases)} equal")
        if verbose:
            for t, got, want in bad[:8]:
                print(f"    {t!r:.60}\n      got  {got[:20]}\n      want {want[:20]}")


if __name__ == "__main__":
    main()
