"""The third, fourth and fifth blind out-of-sample rounds of config-only pricing, against real checkpoint
indexes.

tests/fixtures/quantized_totals/out_of_sample_r3.json (29 checkpoints), out_of_sample_r4.json (26) and
out_of_sample_r5.json (9) hold
public checkpoints read before any code change, none of them in the other fixtures: each one's
config.json, the ``metadata.total_size`` of its ``model.safetensors.index.json`` and the first keys of its
``weight_map``, with what the code answered blind. Every entry is pinned: 'equal' (its listing sums to
total_size byte for byte), a one-line refusal (remote code, unknown architectures: no guessed total),
'unpriced' (a quantization paramscope cannot read, the listing's note says its total is not the file's:
Gemma 4's quant_method "gemma"), or an exact difference a config cannot state, with its diagnosis (a fused
MLX export stored mostly in float32 under a bfloat16 config; T5Gemma 2B-2B's 589,824 bf16 values; a
Llama-3-8B merge with q/k/v in float32; a QLoRA save with un-merged adapters; a Qwen3.5-2B export's float32
norms).

Round 3, blind: 19 equal, 7 refused, 3 open (now pinned). Round 4, blind: 16 equal, 6 refused, 4 open;
fixed: transformers before 4.32 (not 4.31) saved Llama's inv_freq buffers (RUTERGPT-13B, 10,240 B), and a
flat text config under a wrapper's model_type is its text model (a Qwen3.5-2B MLX export: x4.5 before).

Round 5, blind: 2 equal, 7 refused (remote code: Qwen 1 three times, one of them GPTQ; MiniMax-M1; xGen-MM;
a MiniCPM-V derivative; InternVideo2.5), none open. Each refusal's reason says what a row would take (the
three Qwen-1 files and MiniMax-M1, with its float32 routers, are worked out byte for byte by hand).

Round 6 (out_of_sample_r6.json), blind: 17 equal, 5 refused (remote code: InternLM 1 three times,
TeleChat-52B, InternLM-XComposer2; all but the last worked out by hand), 8 open, every one closed to the
byte in its reason: a float16 file under a float32 config (LayoutLM); gpt_neox buffers from old writers in
three files (attention.bias masks counted at 1/8 or 1 byte, masked_bias, inv_freq); a tied Falcon head
counted twice by transformers 4.30; LISA-7B's SAM, projector and text_hidden_fcs under a flat llava config; a
T5EncoderModel priced as the whole encoder-decoder (and its float32 wo); a float32 Llama-3 file whose config
names no torch_dtype. Fixed: T5EncoderModel lists the encoder alone and a float16 T5 keeps wo in float32
(BRIA-3.2); an internlm row (InternLM-20B, an InternLM-Chat-7B fine-tune with its inv_freq buffers; Flames'
own classifier heads stay refused); gpt_neox buffers by transformers version (OASST Pythia-12B, 4.26: equal;
RedPajama and Merlyn, 4.28/4.30: what remains is the index's 1/8-byte count of bool masks, which the listing's
note states).

Round 7 (out_of_sample_r7.json), sought for quantized checkpoints with embedding tables beside the token
table (Gemma 3n/4, Mamba, T5, vision towers): the tool reached one unused pair, a float32 Qwen2.5-3B LoRA
merge whose config names its dtype under ``dtype``: equal.
"""

from __future__ import annotations

import pytest

from builders.index_totals import entries, entry_id, first_names_listed, listed, refused_as_expected

ROUNDS = {"r3": entries("out_of_sample_r3.json"), "r4": entries("out_of_sample_r4.json"),
          "r5": entries("out_of_sample_r5.json"), "r6": entries("out_of_sample_r6.json"),
          "r7": entries("out_of_sample_r7.json")}
ALL = [(r, e) for r, es in ROUNDS.items() for e in es]


def _id(item) -> str:
    return f"{item[0]}-{entry_id(item[1])}"


def _open(entry: dict) -> bool:
    """Not equal: a pinned difference or an unpriced quantization."""
    expected = entry["expected"]
    return isinstance(expected, dict) and ("difference" in expected or "unpriced" in expected)


@pytest.mark.parametrize("item", ALL, ids=_id)
def test_total_size_from_config(item):
    _, entry = item
    if refused_as_expected(entry):
        return
    expected = entry["expected"]
    tensors, notes = listed(entry["config"])
    ours = sum(t.nbytes for t in tensors)
    if expected == "equal":
        assert ours == entry["total_size"]
    elif "unpriced" in expected:  # no total is claimed for the file: the note says so
        assert ours == entry["blind"]["ours"]
        assert any(expected["unpriced"] in n for n in notes), notes
    else:
        assert ours - entry["total_size"] == expected["difference"] != 0
        if expected.get("note"):  # a difference the listing's notes state
            assert any(expected["note"] in n for n in notes), notes


PLAIN = [i for i in ALL if i[1]["expected"] == "equal" and "names_differ" not in i[1]]


@pytest.mark.parametrize("item", PLAIN, ids=_id)
def test_first_index_names_are_listed(item):
    assert first_names_listed(item[1])


@pytest.mark.parametrize("item", [i for i in ALL if "names_differ" in i[1]], ids=_id)
def test_names_spelled_otherwise_are_not_ours(item):
    """Bytes pinned above; the file's writer spells the names its own way (said in names_differ)."""
    assert not first_names_listed(item[1])


@pytest.mark.parametrize(("name", "least", "blind", "now"), [
    # (equal, refused, open) blind; (equal, open) after the fixes
    ("r3", 25, (19, 7, 3), (19, 3)),
    ("r4", 25, (16, 6, 4), (17, 3)),
    # round 5 found only 9 unused public checkpoints with both files through the search tool
    ("r5", 9, (2, 7, 0), (4, 1)),
    # round 6: mostly pytorch_model.bin.index.json files (the safetensors indexes the tool reaches are spent)
    ("r6", 30, (17, 5, 8), (21, 6)),
    # round 7 (quantized checkpoints with embedding tables sought): one unused pair left, a float32 merge
    ("r7", 1, (1, 0, 0), (1, 0)),
])
def test_blind_measurement_is_recorded(name, least, blind, now):
    """Every entry keeps what the code answered blind (the byte total and difference, or the error)."""
    found = ROUNDS[name]
    assert len(found) >= least
    blind_equal = sum(1 for e in found if e["blind"].get("difference") == 0)
    refused = sum(1 for e in found if "error" in e["blind"])
    assert (blind_equal, refused, len(found) - blind_equal - refused) == blind
    assert (sum(1 for e in found if e["expected"] == "equal"), sum(map(_open, found))) == now
    for e in found:
        assert ("ours" in e["blind"]) != ("error" in e["blind"])
        assert e["source"]["repo"].startswith("github.com/") and len(e["source"]["index_commit"]) == 40
        assert len(e["source"]["config_commit"]) == 40
        if "ours" in e["blind"]:
            assert e["blind"]["ours"] - e["total_size"] == e["blind"]["difference"]
        if _open(e) and "difference" in e["expected"]:
            assert e["expected"]["difference"] != 0
