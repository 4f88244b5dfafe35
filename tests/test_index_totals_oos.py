"""Out-of-sample pricing from config.json alone, against real checkpoint indexes.

tests/fixtures/quantized_totals/out_of_sample.json holds 27 public checkpoints collected after the
pricing code was written (none of them in the other fixtures): each one's config.json, the
``metadata.total_size`` of its ``model.safetensors.index.json`` (the exact byte count of every tensor the
shards hold) and the first keys of its ``weight_map``. Every entry is pinned: its listing from the config
sums to total_size byte for byte, or it is a known difference of an exact size whose amount the listing's
own note states, or the config is refused in one line (a remote-code or unknown architecture: no guessed
total). A change that moves any total fails.
"""

from __future__ import annotations

import pytest

from builders.index_totals import entries, entry_id, first_names_listed, listed, refused_as_expected

ENTRIES = entries("out_of_sample.json")
_id = entry_id


@pytest.mark.parametrize("entry", ENTRIES, ids=_id)
def test_total_size_from_config(entry):
    if refused_as_expected(entry):
        return
    expected = entry["expected"]
    tensors, notes = listed(entry["config"])
    ours = sum(t.nbytes for t in tensors)
    if expected == "equal":
        assert ours == entry["total_size"]
    else:
        # a difference the config cannot settle: exact, and announced by the listing's note
        assert ours - entry["total_size"] == expected["difference"] != 0
        assert any(expected["note"] in n for n in notes), notes


PLAIN = [e for e in ENTRIES if e["expected"] == "equal" and "names_differ" not in e]


@pytest.mark.parametrize("entry", PLAIN, ids=_id)
def test_first_index_names_are_listed(entry):
    assert first_names_listed(entry)


@pytest.mark.parametrize("entry", [e for e in ENTRIES if "names_differ" in e], ids=_id)
def test_names_spelled_otherwise_are_not_ours(entry):
    """The files whose writer spells tensor names its own way (mlx-vlm, transformers 5's save-time names for
    Qwen3.5 text models, a tied head's copy): the bytes are pinned above, the names are known to differ."""
    assert not first_names_listed(entry)


def test_blind_measurement_is_recorded():
    """Every entry keeps what the code before its fixes answered, for docs/quantization.md's table: the
    blind byte difference or the error; and the checkpoints cover the brief's spread of methods."""
    blind_equal = sum(1 for e in ENTRIES if e["blind"].get("difference") == 0)
    now_equal = sum(1 for e in ENTRIES if e["expected"] == "equal")
    assert len(ENTRIES) >= 25 and (blind_equal, now_equal) == (18, 21)
    assert {e["method"] for e in ENTRIES} >= {"none", "mlx", "bitsandbytes_8bit", "bitsandbytes_4bit"}
    for e in ENTRIES:
        assert ("ours" in e["blind"]) != ("error" in e["blind"])
        assert e["source"]["repo"].startswith("github.com/") and len(e["source"]["index_commit"]) == 40


def test_listed_rotary_buffers_are_not_announced_as_possibly_missing():
    """Pygmalion-7B (transformers 4.28): its inv_freq buffers are listed and said so; the general note no
    longer says the file "may also hold" them beside that (it still does for a config without them)."""
    from paramscope.knowledge.config_tensors import CONFIG_ONLY_NOTE, CONFIG_ONLY_NOTE_BUFFERS_LISTED

    pygmalion = next(e for e in ENTRIES if e["name"].startswith("Pygmalion-7B"))
    tensors, notes = listed(pygmalion["config"])
    assert any(t.name.endswith("rotary_emb.inv_freq") for t in tensors)
    assert CONFIG_ONLY_NOTE_BUFFERS_LISTED in notes and CONFIG_ONLY_NOTE not in notes
    sakura = next(e for e in ENTRIES if e["name"].startswith("Sakura-14B"))
    assert CONFIG_ONLY_NOTE in listed(sakura["config"])[1]
