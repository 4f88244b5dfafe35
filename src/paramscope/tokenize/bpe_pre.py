"""Pre-tokenizers of GGUF byte-level BPE vocabularies, by ``tokenizer.ggml.pre``.

llama.cpp splits text with a list of regular expressions chosen by the pre-tokenizer name, each
expression splitting the pieces the previous one left, matches and the text between them both kept
as pieces (src/llama-vocab.cpp, ``llm_tokenizer_bpe``'s constructor; src/unicode.cpp,
``unicode_regex_split``). The expressions below are llama.cpp's own, as rewritten there for
``std::regex`` (``(?i:'s|…)`` spelled out case by case; Tekken's and GPT-4o's ``\\p{Lu}``/``\\p{Ll}``
as "a letter other than a-z / A-Z", which is what its collapsed-category matching makes of them, so
every non-ASCII letter counts as both cases). ``oniguruma`` then rewrites each one so that Oniguruma,
the engine ``tokenizers`` runs, splits as llama.cpp's std::regex does (see there).

Kimi-K2's splitter and afmoe's and tiny_aya's digit groups are hand-written code in llama.cpp, written
here as the expressions that split the same way (``_KIMI_K2_SPLIT``, ``_DIGIT_GROUPS``). superbpe's
empty-match expression is not in ``PRE_NAMES`` and is refused rather than guessed.
"""

from __future__ import annotations

import re

from paramscope.records import record

_C = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"  # (?i:'s|'t|'re|'ve|'m|'ll|'d)
_GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"
_LLAMA3 = _C + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
_QWEN2 = _C + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
_QWEN35 = (_C + r"|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+"
           r"|\s+(?!\S)|\s+")
# Non-ASCII characters as escapes: several of these are canonically equivalent to others (U+1F7D "ώ" to
# U+03CE, U+212A KELVIN SIGN to "K"), which an editor's normalization would silently swap.
_DEEPSEEK_LETTERS = (
    "A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af\u0370-\u0373"
    "\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5\u03f7-\u0481"
    "\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b"
    "\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b"
    "\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb"
    "\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128"
    "\u212a-\u212d\u212f-\u2134\u2139\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4"
    "\u2ceb-\u2cee\u2cf2\u2cf3\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf"
    "\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\U00010400-\U0001044f\U000104b0-\U000104d3"
    "\U000104d8-\U000104fb\U00010c80-\U00010cb2\U00010cc0-\U00010cf2\U000118a0-\U000118df\U0001e900-\U0001e943")
_DEEPSEEK_PUNCT = "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+"
_CJK_HANGUL = "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+"
_CJK_KANA = "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+"
_DEEPSEEK3_MAIN = (r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+"
                   r"| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_UPPER = r"((?=[\p{L}])([^a-z]))"  # llama.cpp's stand-in for [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
_LOWER = r"((?=[\p{L}])([^A-Z]))"  # … and for [\p{Ll}\p{Lm}\p{Lo}\p{M}]
_TEKKEN = (rf"[^\r\n\p{{L}}\p{{N}}]?{_UPPER}*{_LOWER}+|[^\r\n\p{{L}}\p{{N}}]?{_UPPER}+{_LOWER}*|\p{{N}}"
           r"| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_GPT4O = (rf"[^\r\n\p{{L}}\p{{N}}]?{_UPPER}*{_LOWER}+{_C}?|[^\r\n\p{{L}}\p{{N}}]?{_UPPER}+{_LOWER}*{_C}?"
          r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_UPPER_M = r"((?=[\p{L}\p{M}])([^a-z]))"
_LOWER_M = r"((?=[\p{L}\p{M}])([^A-Z]))"
_GRANITE_EMB = (rf"[^\r\n\p{{L}}\p{{N}}]?{_UPPER_M}*{_LOWER_M}+{_C}?"
                rf"|[^\r\n\p{{L}}\p{{N}}]?{_UPPER_M}+{_LOWER_M}*{_C}?"
                r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_BLOOM = " ?[^(\\s|.,!?\u2026\u3002\uff0c\u3001\u0964\u06d4\u060c)]+"
_NEWLINES = r"[^\n]+|[\n]+"
_AFMOE_DIGITS = r"\p{AFMoE_digits}"  # names llama.cpp's hand-written splitter (unicode_regex_split_custom)
_TINY_AYA_DIGITS = r"\d{1,3}(?=(?:\d{3})*\b)"  # … runs the same splitter
# What that splitter does, as an expression: a run of digits cut into groups of three from the right,
# the text before the run joined to its first group (unicode_regex_split_custom_afmoe)
_DIGIT_GROUPS = r"[^\p{N}]*\p{N}{1,3}(?=(?:\p{N}{3})*(?!\p{N}))"
_KIMI_K2 = r"\p{Han}+"  # names llama.cpp's hand-written Kimi-K2 splitter
# unicode_cpt_is_han
_HAN = ("\\x{4e00}-\\x{9fff}\\x{3400}-\\x{4dbf}\\x{20000}-\\x{2a6df}\\x{2a700}-\\x{2b73f}"
        "\\x{2b740}-\\x{2b81f}\\x{2b820}-\\x{2ceaf}\\x{2ceb0}-\\x{2ebef}\\x{f900}-\\x{faff}\\x{2f800}-\\x{2fa1f}")
# What unicode_regex_split_custom_kimi_k2 does, as an expression: Han runs; letters other than Han
# (upper and lower case alike) with one leading other character and a contraction; digits by three;
# punctuation runs (never an unassigned code point) with the line breaks after them; spaces as
# llama3's; anything else one character at a time
_KIMI_K2_SPLIT = (f"[{_HAN}]+|[^\\r\\n\\p{{L}}\\p{{N}}]?[\\p{{L}}&&[^{_HAN}]]+"
                  r"(?:'[sStTmMdD]|'[rR][eE]|'[vV][eE]|'[lL][lL])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}\p{Cn}]+[\r\n]*"
                  r"|\s*[\r\n]|\s+(?!\S)|\s+|[\s\S]")
_AFMOE_CJK = ("[\u4e00-\u9fff\u3400-\u4dbf\u8c48-\ufaff\u3040-\u309f\u30a0-\u30ff\uff65-\uff9f\u2f00-\u2fdf"
              "\u0e40-\u0e7f\u0e80-\u0eff\u1780-\u17ff\u1000-\u109f\uaa60-\uaa7f\ua9e0-\ua9ff\uac00-\ud7af"
              "\u1100-\u11ff]+")
_YOUTU_CJK = ("[\uac00-\ud7a3\u3131-\u318e]+|[\uff01\u2026\u201c\u201d\u2018\u2019\u2014\uff1a\uff1b\uff0c"
              "\u3001-\u303f\ufe30-\ufe4f]+|[\u3105-\u312f]+|[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+")
_YOUTU = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+" + _C + "?"
          r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*" + _C + "?"
          r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")


# Non-ASCII White_Space (llama.cpp's unicode_set_whitespace less the ASCII ones)
_WIDE_SPACE = "\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"
_CATEGORY = re.compile(r"\\p\{(N|L|P|M|S|Lu|Ll|Lt|Lm|Lo)\}")


def oniguruma(regex: str) -> str:
    """One of llama.cpp's expressions as Oniguruma must read it to split the same way.

    - An expression with a category (``\\p{L}``…) runs on llama.cpp's "collapsed" text, where every
      letter is one stand-in byte: ``\\p{Lu}``, ``\\p{Ll}``, ``\\p{Lt}``, ``\\p{Lm}``, ``\\p{Lo}`` all mean
      ``\\p{L}`` there (k_ucat_enum maps the five to LETTER).
    - One without runs as std::wregex on the text with every non-ASCII space replaced by U+000B first
      ("std::wregex \\s does not mach non-ASCII whitespaces"), so a bracket class of literal
      characters never matches one: deepseek's "[一-龥ࠀ-一가-퟿]+" spans U+0800-U+4E00, which holds
      U+2028 and U+3000, yet leaves them alone. Such classes are intersected with "not a non-ASCII
      space".
    - std::regex's ``$`` is the end of the piece; Oniguruma's also matches before a line break: ``\\z``.
    """
    if regex in (_AFMOE_DIGITS, _TINY_AYA_DIGITS):
        return _DIGIT_GROUPS
    if regex == _KIMI_K2:
        return _KIMI_K2_SPLIT
    wide = _CATEGORY.search(regex) is None
    regex = re.sub(r"\\p\{L[ultmo]\}", r"\\p{L}", regex)
    out, i = [], 0
    while i < len(regex):
        c = regex[i]
        if c == "\\":
            out.append(regex[i:i + 2])
            i += 2
            continue
        if c == "[":
            j = i + 1
            while j < len(regex) and regex[j] != "]":
                j += 2 if regex[j] == "\\" else 1
            body = regex[i + 1:j]
            if wide and not body.startswith("^") and any(ord(ch) > 0x7F for ch in body):
                out.append(f"[{body}&&[^{_WIDE_SPACE}]]")
            else:
                out.append(regex[i:j + 1])
            i = j + 1
            continue
        out.append(r"\z" if c == "$" else c)
        i += 1
    return "".join(out)


@record
class PreTokenizer:
    kind: str  # llama.cpp's LLAMA_VOCAB_PRE_TYPE_* name, lower case
    regexes: tuple[str, ...]
    ignore_merges: bool = False  # a piece that is itself a token is taken whole (llama3, tekken…)
    add_bos: bool | None = None  # the default add_bos for this pre-tokenizer (the file's key wins)
    no_bos: bool = False  # the pre-tokenizer clears the BOS token (chatglm: special_bos_id = NULL)
    # SentencePiece-style BPE (gemma4, sarvam-moe): spaces become "▁" (escape_whitespaces), no GPT-2 byte
    # encoding (byte_encode = false), and characters without a token fall back to "<0xXX>" byte tokens
    spm_style: bool = False
    force_bos: bool = False  # add_bos is true whatever the file says (gemma4: "override … to 'true'")


# LLAMA_VOCAB_PRE_TYPE_* → its expressions (llm_tokenizer_bpe's constructor).
KINDS: dict[str, tuple[str, ...]] = {
    "default": (r"[\p{P}\$\+<=>\^~\|]+", _GPT2, r"\p{N}+", r"[0-9][0-9][0-9]"),
    "gpt2": (_GPT2,),
    "llama3": (_LLAMA3,),
    "jais2": (_C + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
              + "".join(rf"|\s{{{n}}}(?!\S)" for n in (512, 256, 128, 64, 32, 16, 8, 4))
              + r"|\s{1,2}(?!\S)|\s{1}",),
    "qwen2": (_QWEN2,),
    "qwen35": (_QWEN35,),
    "starcoder": (r"\p{N}", _GPT2),
    "falcon": (r"[\p{P}\$\+<=>\^~\|`]+", _GPT2, r"[0-9][0-9][0-9]"),
    "deepseek-llm": ("[\r\n]", rf"\s?[{_DEEPSEEK_LETTERS}]+", _DEEPSEEK_PUNCT, r"\s+$", _CJK_HANGUL,
                     r"\p{N}+"),
    "deepseek-coder": ("[\r\n]", r"\s?\p{L}+", r"\s?\p{P}+", _CJK_HANGUL, r"\p{N}"),
    "deepseek3": (r"\p{N}{1,3}", _CJK_KANA, _DEEPSEEK3_MAIN),
    "spark2_5": (r"\p{N}{1,3}", _CJK_KANA,
                 r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+"
                 r"| ?[\p{P}\p{S}]+|[\r\n]|\s+(?!\S)|\s+", r"\p{N}"),
    "youtu": (_YOUTU_CJK, _YOUTU),
    "afmoe": (_AFMOE_DIGITS, _AFMOE_CJK, _DEEPSEEK3_MAIN),
    "kimi-k2": (_KIMI_K2,),
    "tiny_aya": (_TINY_AYA_DIGITS, _YOUTU.replace(r"|\p{N}|", r"|\p{N}{1,3}|")),
    "bloom": (_BLOOM,),
    "viking": (_BLOOM, r"\p{N}"),
    "tekken": (_TEKKEN,),
    "gpt4o": (_GPT4O,),
    "granite-emb-multi": (_GRANITE_EMB,),
    "chameleon": ("<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )", r"\p{N}",
                  r"[\p{P}!-/:-@\[-`{-~]", _GPT2),
    "bailingmoe": (r"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
                   r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+",),
    "seed-coder": (_C + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+"
                   r"|\s+(?!\S)|\s+",),
    "ufakzeka": (r"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",),
    "laguna": (_NEWLINES, _QWEN2),
    "exaone-moe": (_C + r"|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}"
                   r"| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+",),
    "gemma4": (_NEWLINES,),
    "sarvam-moe": (_NEWLINES,),
    "minicpm5": (r"\p{N}{1,3}", _C + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
                 r"|\s+(?!\S)|\s+"),
}

# tokenizer.ggml.pre → (kind, ignore_merges, add_bos): llama_vocab::impl::load's tokenizer_pre chain.
_NAMES: dict[str, tuple[str, bool, bool | None]] = {
    "default": ("default", False, None),
    **{n: ("llama3", True, True) for n in ("llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1",
                                           "pixtral", "midm-2.0", "lfm2", "jina-v5-nano")},
    "minicpm5": ("minicpm5", True, None),
    "deepseek-llm": ("deepseek-llm", False, None),
    "deepseek-coder": ("deepseek-coder", False, None),
    **{n: ("deepseek3", False, None) for n in ("deepseek-v3", "hunyuan-dense", "hy_v4", "joyai-llm")},
    "spark2_5": ("spark2_5", False, None),
    "youtu": ("youtu", True, None),
    "afmoe": ("afmoe", False, None),
    "kimi-k2": ("kimi-k2", False, None),
    **{n: ("tiny_aya", False, None) for n in ("tiny_aya", "cohere2moe")},
    "falcon": ("falcon", False, None),
    **{n: ("gpt2", False, None) for n in ("gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es",
                                          "jina-v2-de", "a.x-4.0", "mellum", "modern-bert", "jina-v1-en",
                                          "jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais", "exaone4",
                                          "trillion", "granite-docling")},
    "jais-2": ("jais2", False, None),
    **{n: ("starcoder", False, None) for n in ("starcoder", "refact", "command-r", "smollm", "codeshell",
                                               "exaone", "minerva-7b", "mellum2")},
    **{n: ("qwen2", False, None) for n in ("qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez",
                                           "stablelm2", "hunyuan", "solar-open", "grok-2")},
    "qwen35": ("qwen35", False, None),
    **{n: ("llama3", False, None) for n in ("dbrx", "smaug-bpe")},
    **{n: ("bloom", False, None) for n in ("poro-chat", "bloom", "gpt3-finnish")},
    "chatglm-bpe": ("llama3", False, None),
    **{n: ("llama3", True, None) for n in ("glm4", "glm5")},
    "viking": ("viking", False, None),
    "tekken": ("tekken", True, True),
    "chameleon": ("chameleon", False, True),
    **{n: ("gpt4o", False, None) for n in ("gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2")},
    "granite-embed-multi-97m": ("granite-emb-multi", True, None),
    **{n: ("bailingmoe", False, None) for n in ("bailingmoe", "bailingmoe2", "llada-moe")},
    "seed-coder": ("seed-coder", False, None),
    "ufakzeka": ("ufakzeka", False, None),
    "laguna": ("laguna", False, None),
    "exaone-moe": ("exaone-moe", False, None),
}
# chatglm's pre-tokenizers clear the BOS token (special_bos_id = LLAMA_TOKEN_NULL; a file key sets it again)
_NO_BOS = {"chatglm-bpe", "glm4", "glm5"}

PRE_NAMES: dict[str, PreTokenizer] = {
    **{name: PreTokenizer(kind, KINDS[kind], ignore_merges, add_bos, name in _NO_BOS)
       for name, (kind, ignore_merges, add_bos) in _NAMES.items()},
    **{n: PreTokenizer("gemma4", KINDS["gemma4"], spm_style=True, force_bos=True)
       for n in ("gemma4", "granite-embed-multi-311m")},
    "sarvam-moe": PreTokenizer("sarvam-moe", KINDS["sarvam-moe"], spm_style=True),
}
# Names llama.cpp knows that are refused here, with the reason the error gives.
UNSUPPORTED = {"superbpe": "an empty-match split expression",
               "whitespace": "a whitespace vocabulary type"}
