"""llama.cpp's own token IDs for the Gemma 3 270M GGUF and for all-MiniLM-L6-v2, written to
tests/fixtures/gemma_llamacpp_ids.json and tests/fixtures/minilm_llamacpp_ids.json.

Runs under llama-cpp-python's interpreter (it imports the standard library, llama_cpp and, for MiniLM,
the gguf library; it is never a test dependency): the texts are generated here, deterministically, and
stored in the fixture beside the IDs that ``Llama.tokenize(text, add_bos=True, special=False)`` gives for
them, so that tests/test_tokens.py compares paramscope's tokenizer with llama.cpp without llama.cpp
installed.

    LLAMA_VENV/bin/python bench/make_token_fixture.py [--model PATH] [--out PATH]
    LLAMA_VENV/bin/python bench/make_token_fixture.py --minilm [--minilm-dir DIR] [--out PATH]

The vocabulary is loaded with ``vocab_only=True``: tokenizing needs no weights and no compute backend.
MiniLM is a Hugging Face directory, so its WordPiece vocabulary is first written into a vocabulary-only
GGUF the way llama.cpp's convert_hf_to_gguf.py converts a BERT model (``BertModel.set_vocab``:
tokenizer.ggml.model "bert", the "##" continuation prefix dropped and a "▁" phantom space put before
every word-initial token, special tokens as CONTROL); llama.cpp's WPM tokenizer then runs on it, an
engine independent of the ``tokenizers`` library paramscope uses for tokenizer.json.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = Path.home() / ".cache" / "paramscope" / "models" / "gemma-3-270m-q4_k_m.gguf"
DEFAULT_OUT = ROOT / "tests" / "fixtures" / "gemma_llamacpp_ids.json"
DEFAULT_MINILM = Path.home() / ".cache" / "paramscope" / "models" / "all-MiniLM-L6-v2"
MINILM_OUT = ROOT / "tests" / "fixtures" / "minilm_llamacpp_ids.json"
GGUF_CONTROL, GGUF_NORMAL = 3, 1  # gguf.TokenType
SEED = 20250305
N_RANDOM = 80

ENGLISH = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello, world!",
    "I can't believe it's not butter.",
    "She said: \"Don't go there; it's dangerous.\"",
    "Tokenization is the first step of every language model.",
    "A model never sees text: it sees token IDs.",
    "What's the difference between a tokenizer and a vocabulary?",
    "The KV cache grows with every token in the context window.",
    "antidisestablishmentarianism",
    "Supercalifragilisticexpialidocious!",
    "pneumonoultramicroscopicsilicovolcanoconiosis",
    "E-mail me at someone@example.com or visit https://example.org/path?q=1&r=2#frag.",
    "It was the best of times, it was the worst of times.",
    "To be, or not to be, that is the question.",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
    "tHe QuIcK bRoWn FoX",
    "Mr. and Mrs. Dursley, of number four, Privet Drive, were proud to say that they were perfectly normal.",
    "The year 2024 had 366 days; 2023 had 365.",
    "naïve café résumé coöperate façade jalapeño",
    "Ünïcödé àççéñts ärè fün",
    "Hyphen-ated words, em—dashes, en–dashes, and … ellipses.",
    "“Smart quotes” and ‘single ones’ « guillemets »",
    "a",
    "I",
    "ab",
    ".",
    "!!!",
    "???",
    "...",
    "Well... I don't know!?",
    "O'Reilly's book isn't the one you're thinking of, y'all.",
    "the the the the the the the the",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "abcabcabcabcabcabcabcabc",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt.",
    "#hashtag @mention $TICKER %percent ^caret &amp *star",
    "(parentheses) [brackets] {braces} <angles>",
    "C'est la vie, mon ami. Où est la bibliothèque?",
    "Der schnelle braune Fuchs springt über den faulen Hund. Straße, Grüße.",
    "El rápido zorro marrón salta sobre el perro perezoso. ¿Qué tal? ¡Hola!",
    "Szybki brązowy lis przeskakuje nad leniwym psem. Zażółć gęślą jaźń.",
    "Hızlı kahverengi tilki tembel köpeğin üzerinden atlar.",
    "Tiếng Việt có dấu: Tôi yêu tiếng nước tôi.",
]

CODE = [
    "def hello(name: str) -> str:\n    return f\"Hello, {name}!\"\n",
    "for (int i = 0; i < n; ++i) {\n\tsum += a[i] * b[i];\n}",
    "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); return 0; }",
    "const add = (a, b) => a + b;\nconsole.log(add(2, 3));",
    "SELECT id, name FROM users WHERE age >= 21 ORDER BY name DESC LIMIT 10;",
    "{\"tokens\": [{\"id\": 2, \"text\": \"<bos>\"}], \"count\": 1}",
    "<html><body><div class=\"x\"><b>bold</b> and <i>italic</i></div></body></html>",
    "<table><tr><td>1</td><td>2</td></tr></table>",
    "<h1>Title</h1>\n<p>Paragraph with <code>code</code> and <a href=\"#\">link</a>.</p>",
    "git commit -m \"fix: handle empty input\" && git push origin main",
    "ls -la | grep '\\.py$' | wc -l",
    "import numpy as np\nx = np.arange(10).reshape(2, 5)\nprint(x.T @ x)",
    "fn main() {\n    let v: Vec<u32> = (0..10).collect();\n    println!(\"{:?}\", v);\n}",
    "if x == None:\n        pass\n    elif x != 0:\n        raise ValueError('bad')",
    "    indented four spaces\n        eight spaces\n\t\ttwo tabs",
    "^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$",
    "x += 1; y -= 2; z *= 3; w /= 4; v **= 5; u //= 6",
    "// comment\n/* block\n   comment */\n# hash comment",
    "key: value\nlist:\n  - one\n  - two\nnested:\n    deep: true",
    "| col1 | col2 |\n|------|------|\n| a    | b    |",
    "```python\nprint('fenced')\n```",
    "__init__ __main__ __name__ _private self.x_y_z",
    "camelCaseIdentifier snake_case_identifier SCREAMING_CASE kebab-case-id",
    "0x7fffffff 0b101010 0o755 1e-9 6.02e23 3.0f 10L",
    "std::vector<std::pair<int, std::string>> v;",
    "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n",
    "<bos>text after a literal bos<eos>",
    "<0x41><0x0A> look like byte tokens",
    "[multimodal] <start_of_image> <unused0> <mask> <pad>",
]

NUMBERS = [
    "3.14159265358979323846",
    "1,234,567.89",
    "1 234 567",
    "2024-03-05T12:34:56Z",
    "+1 (555) 123-4567",
    "0",
    "00000",
    "1234567890",
    "12345678901234567890123456789012345678901234567890",
    "-42",
    "$19.99 €5,00 £3.50 ¥1000",
    "100%",
    "1/2 3/4 ⅓ ¼ ½",
    "x² + y² = z³",
    "192.168.0.1:8080",
    "v1.2.3-rc.4+build.5",
    "Room 101, Floor 7, Building 42B",
    "٠١٢٣٤٥٦٧٨٩",
    "一二三四五六七八九十",
    "Ⅰ Ⅱ Ⅲ Ⅳ Ⅻ",
]

SCRIPTS = [
    "你好，世界！",
    "我喜欢吃苹果和香蕉。",
    "机器学习模型把文本切分成词元。",
    "日本語のテキストをトークンに分割します。",
    "ひらがな カタカナ 漢字",
    "東京は日本の首都です。",
    "안녕하세요, 세계!",
    "한국어 문장을 토큰으로 나눕니다.",
    "مرحبا بالعالم",
    "اللغة العربية جميلة جداً.",
    "السلام عليكم ورحمة الله وبركاته",
    "Привет, мир!",
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Москва — столица России.",
    "Слава Україні! Ґанок, їжак, єнот.",
    "Γειά σου Κόσμε! Η γρήγορη καφέ αλεπού.",
    "שלום עולם",
    "नमस्ते दुनिया",
    "हिन्दी में लिखा गया वाक्य।",
    "สวัสดีชาวโลก",
    "ভাষা বাংলা",
    "தமிழ் மொழி",
    "ქართული ენა",
    "Հայերեն լեզու",
    "ᚠᚢᚦᚨᚱᚲ runes",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕄𝕒𝕥𝕙 𝒮𝒸𝓇𝒾𝓅𝓉",
    "English 中文 العربية Русский 日本語 mixed",
    "Ǆǅǆ ﬁﬂ ẞß İı",
    "Zalgo: Z̷̢̛a̸l̶g̵o̴",
    "e\u0301 (combining acute) vs é (precomposed)",
    "zero\u200bwidth\u200cjoiner\u200dtest",
    "soft\u00adhyphen and no\u00a0break space",
    "right-to-left mark \u200f and bom \ufeff",
]

EMOJI = [
    "😀",
    "I love pizza 🍕 and tacos 🌮!",
    "👍🏽 👍🏿 thumbs",
    "👨‍👩‍👧‍👦 family",
    "🏳️‍🌈 🇺🇸 🇯🇵 🇩🇪 flags",
    "❤️ ♥ ❤ 💔 💕",
    "🤖🧠💡🚀",
    "Emoji at end 🎉",
    "🎉 Emoji at start",
    "a😀b😀c😀d",
    "🙂🙂🙂🙂🙂🙂🙂🙂",
    "☃ ☂ ☀ ★ ☆ ✓ ✗ ✔",
    "→ ← ↑ ↓ ⇒ ∀ ∃ ∈ ∑ ∫ √ ∞ ≠ ≤ ≥",
    "♠♣♥♦ ♩♪♫♬",
    "𓀀𓀁 hieroglyphs",
]

WHITESPACE = [
    "",
    " ",
    "  ",
    "   ",
    "\n",
    "\n\n",
    "\t",
    " \t \n ",
    " leading space",
    "  two leading spaces",
    "      six leading spaces",
    "trailing space ",
    "trailing spaces   ",
    "multiple   spaces   between   words",
    "one space  two spaces   three spaces    four",
    "tab\tseparated\tvalues",
    "\tleading tab",
    "trailing tab\t",
    "line one\nline two\nline three",
    "paragraph one\n\nparagraph two\n\n\nparagraph three",
    "windows\r\nline\r\nendings\r\n",
    "old mac\rline endings",
    "\n\nleading newlines",
    "trailing newlines\n\n\n",
    " \n mixed \t whitespace \n\t ",
    "word" + " " * 40 + "word",
    "word" + "\n" * 35 + "word",
    "word" + "\t" * 33 + "word",
    " " * 70,
    "x\u3000ideographic space\u3000y",
    "vertical\x0btab and form\x0cfeed",
    "null\x00byte and bell\x07",
    "▁ literal lower one eighth block ▁▁",
]


def random_texts(n: int, seed: int) -> list[str]:
    """Deterministic mixtures of every pool above, cut and joined with random whitespace."""
    rng = random.Random(seed)
    pools = [ENGLISH, CODE, NUMBERS, SCRIPTS, EMOJI]
    glue = [" ", "  ", "\n", "\t", "", " \n", "\n\n", "   "]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 4)):
            s = rng.choice(rng.choice(pools))
            if s and rng.random() < 0.5:
                i, j = sorted(rng.sample(range(len(s) + 1), 2)) if len(s) > 1 else (0, len(s))
                s = s[i:j]
            parts.append(s)
        text = rng.choice(glue).join(parts)
        if rng.random() < 0.3:
            text = rng.choice(glue) + text
        if rng.random() < 0.3:
            text = text + rng.choice(glue)
        out.append(text)
    return out


def texts() -> list[str]:
    fixed = ENGLISH + CODE + NUMBERS + SCRIPTS + EMOJI + WHITESPACE
    seen: set[str] = set()
    out = []
    for t in fixed + random_texts(N_RANDOM, SEED):
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


def bert_vocab_gguf(model_dir: Path, out: Path) -> None:
    """A vocabulary-only GGUF of a BERT WordPiece tokenizer.json, as convert_hf_to_gguf.py writes it."""
    import gguf

    spec = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = spec["model"]["vocab"]
    tokens = [""] * len(vocab)
    for text, i in vocab.items():
        tokens[i] = text
    special = {t["id"] for t in spec["added_tokens"] if t["special"]}

    def phantom(tok: str) -> str:  # convert_hf_to_gguf.py BertModel.set_vocab
        if tok.startswith("[") and tok.endswith("]"):
            return tok
        return tok[2:] if tok.startswith("##") else "\u2581" + tok

    w = gguf.GGUFWriter(out, "bert")
    w.add_tokenizer_model("bert")
    w.add_tokenizer_pre("default")
    w.add_token_list([phantom(t) for t in tokens])
    w.add_token_types([GGUF_CONTROL if i in special else GGUF_NORMAL for i in range(len(tokens))])
    w.add_bos_token_id(vocab["[CLS]"])  # SpecialVocab maps cls_token to BOS for BERT
    w.add_sep_token_id(vocab["[SEP]"])
    w.add_unk_token_id(vocab["[UNK]"])
    w.add_pad_token_id(vocab["[PAD]"])
    w.add_mask_token_id(vocab["[MASK]"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--minilm", action="store_true", help="MiniLM's WordPiece vocabulary instead of Gemma")
    ap.add_argument("--minilm-dir", type=Path, default=DEFAULT_MINILM)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    import tempfile

    import llama_cpp

    call = "Llama(model, vocab_only=True).tokenize(text.encode('utf-8'), add_bos=True, special=False)"
    with tempfile.TemporaryDirectory() as tmp:
        if args.minilm:
            model, out = Path(tmp) / "minilm-vocab.gguf", args.out or MINILM_OUT
            bert_vocab_gguf(args.minilm_dir, model)
            name = f"{args.minilm_dir.name}/tokenizer.json, written as a vocabulary-only GGUF " \
                   "(bench/make_token_fixture.py bert_vocab_gguf, as convert_hf_to_gguf.py BertModel)"
        else:
            model, out, name = args.model, args.out or DEFAULT_OUT, args.model.name
        llm = llama_cpp.Llama(str(model), vocab_only=True, verbose=False)
        cases = [{"text": t, "ids": llm.tokenize(t.encode("utf-8"), add_bos=True, special=False)}
                 for t in texts()]
    args.out = out
    head = {"model": name, "engine": f"llama-cpp-python {llama_cpp.__version__}", "call": call}
    # One case per line: a later regeneration diffs by text.
    lines = [f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in head.items()]
    body = ",\n".join(f"  {json.dumps(c, ensure_ascii=False)}" for c in cases)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("{\n" + "\n".join(lines) + '\n "cases": [\n' + body + "\n ]\n}\n", encoding="utf-8")
    print(f"{len(cases)} texts → {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
