"""llama.cpp's token IDs for every vocabulary-only GGUF llama.cpp ships (models/ggml-vocab-*.gguf in
the llama-cpp-python 0.3.36 sdist), on generated texts, written to
tests/fixtures/llamacpp_vocab_ids.json for tests/test_tokens_llamacpp_vocabs.py.

Runs under llama-cpp-python's interpreter (standard library and llama_cpp only; never a test
dependency). The texts are every other one of the Gemma fixture's (bench/make_token_fixture.py: English,
code, numbers, scripts, emoji, whitespace, random mixtures) plus texts aimed at what differs between
tokenizer types:
runs of every kind of whitespace, long newline runs, digit runs, contractions in every case, letters
that are canonically equivalent to others, combining marks, control and format characters, the
vocabularies' own special-token strings, very long words. Each vocabulary is tokenized with
``Llama.tokenize(text, add_bos=True, special=False)`` (add_special on: BOS/EOS/[CLS]/[SEP] as llama.cpp
adds them, special tokens in the text not parsed).

    /tmp/llamavenv/bin/python bench/make_vocab_fixture.py VOCAB_DIR [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_token_fixture import texts as gemma_texts

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "llamacpp_vocab_ids.json"
SEED = 20261203
N_RANDOM = 40

TARGETED = [
    "\n" * 3, "\n" * 7, "\n" * 16, "\n" * 33, "\n" * 70, "a\n\n\n\nb", "\r\n\r\n", "\r\r\n\n", " \n \n ",
    "  \n\n  x", "\t\t\t", "\t \t", " " * 9, " " * 40 + "x", "x" + " " * 17, "\u3000\u3000全角", "\xa0\xa0a",
    "a\u2028b\u2029c", "a\x85b", "\x0b\x0c", "a\x1cb\x1dc\x1ed\x1fe", "\x00", "a\x00b", "\x7f\x01",
    "It'S 'LL 'Re 'VE 'd 'M 'T o'clock rock'n'roll '", "DON'T WON'T Y'ALL'D'VE",
    "123", "1234", "12345678901", "1,000,000", "3.14", "٣٤٥ ۴۵۶ १२३ ๑๒๓", "①②③ ⑴ ¹²³ ½",
    "\u212a Kelvin, \u2126 Ohm, \u1f7d, \u00c5ngstr\u00f6m \u212b", "ﬀ ﬁ ﬃ ＡＢＣ ａｂｃ １２３",
    "a\u0300\u0301\u0302\u0303 e\u0308 n\u0303", "क़ि ्र ा ि", "ñ ñ", "각 각",
    "\u200b\u200c\u200d\u2060\ufeff", "\u202e reversed \u202c", "\ue000\uf8ff private use", "\U000e0001 tag",
    "<s></s><unk><pad><mask>", "<|endoftext|><|im_start|>user<|im_end|>", "[CLS] [SEP] [MASK] [UNK] [PAD]",
    "<bos><eos><start_of_turn><end_of_turn>", "<|begin_of_text|><|eot_id|>", "<|START_OF_TURN_TOKEN|>",
    "<｜begin▁of▁sentence｜>", "▁▁▁ ▁x", "Ġ Ċ ĉ", "<0x0A><0xFF>",
    "a" * 300, "ab" * 150, "é" * 120, "中" * 100, "😀" * 40, "Z̷̢̛a̸l̶g̵o̴" * 10,
    "https://example.com/a/b?c=d&e=f#g", "x=1;y=2;z=x+y", "if(a&&b||!c){return -1;}", "$$ \\frac{a}{b} $$",
    "λx.x → ∀x∈ℝ: x² ≥ 0", "Hello\tWorld\nfoo  bar   baz", "  leading", "trailing  ", " ",
]

CHAR_POOLS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "0123456789", " \t\n\r", "  \n\n", ".,;:!?'\"-_()[]{}<>/\\|@#$%^&*+=~`",
    "àáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿĀāĂăĄąĆćČčĎďĒēĘęĚěĞğĪīİıŁłŃńŇňŌōŐőŒœŘřŚśŞşŠšŤťŪūŮůŰűŸŹźŻżŽž",
    "αβγδεζηθικλμνξοπρστυφχψωΑΒΓΔΕабвгдежзийклмнопрстуфхцчшщъыьэюяАБВГД",
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴切",
    "あいうえおかきくけこアイウエオカキクケコ가나다라마바사아자차카타파하ㄱㄴㄷ",
    "ابتثجحخدذرسشصضطظعغفقكلمنهوي" "אבגדהוזחטיכלמנסעפצקרשת" "अआइईउऊएऐओऔकखगघचछजझटठडढणतथदधनपफबभमयरलवशषसह्ािीुू",
    "😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗👍👎👏🙏🔥💯✨🎉❤️🇺🇸🏳️‍🌈👨‍👩‍👧",
    "\u0300\u0301\u0308\u0327\u200b\u200d\u00a0\u2003\u3000\u00ad\ufeff\u2028\x0b\x0c\x85",
    "∀∃∈∑∫√∞≠≤≥→←↑↓⇒ℝℕ℃№™©®°±×÷µ¶§",
]


def random_texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 12)):
            pool = rng.choice(CHAR_POOLS)
            parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 12))))
        out.append(rng.choice(["", " "]).join(parts))
    return out


def all_texts() -> list[str]:
    # every other text of the Gemma fixture (the whole of it is tests/fixtures/gemma_llamacpp_ids.json)
    return list(dict.fromkeys(TARGETED + gemma_texts()[::2] + random_texts(N_RANDOM, SEED)))


def main() -> int:
    import llama_cpp

    ap = argparse.ArgumentParser()
    ap.add_argument("vocab_dir", type=Path)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    texts = all_texts()
    vocabs = {}
    for path in sorted(args.vocab_dir.glob("ggml-vocab-*.gguf")):
        llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
        vocabs[path.name] = [llm.tokenize(t.encode("utf-8"), add_bos=True, special=False) for t in texts]
        print(path.name, sum(map(len, vocabs[path.name])), "tokens", file=sys.stderr)
    fixture = {"source": "llama-cpp-python 0.3.36, Llama.tokenize(text, add_bos=True, special=False)",
               "texts": texts, "ids": vocabs}
    args.out.write_text(json.dumps(fixture, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"{args.out}: {len(texts)} texts × {len(vocabs)} vocabularies", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
