"""`paramscope zoo` on a real Dask cluster over a zoo written by tests/builders/zoo_files.py, checked
against hashes the safetensors and gguf libraries' own reads give (never paramscope's): every duplicate,
copy, fine-tune, unsafe pickle and broken file placed is found, and the totals are exact."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("distributed")
pytest.importorskip("pyarrow")
pytest.importorskip("fsspec")

import fsspec
import pyarrow.parquet as pq

import paramscope
from builders import gguf_malformed, pickle_attacks, safetensors_malformed
from builders.zoo_files import Zoo, build_zoo, library_hashes
from paramscope.app.zoo import ZooResult
from paramscope.app.zoo.store import Store
from paramscope.app.zoo.walk import model_key, walk

# threads in this process: a real scheduler and worker, without starting processes on a loaded machine
LIGHT = {"processes": False, "workers": 1}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Zoo:
    return build_zoo(tmp_path_factory.mktemp("zoo"), repeat=2)


@pytest.fixture(scope="module")
def small_run(small, tmp_path_factory) -> tuple[ZooResult, Path]:
    out = tmp_path_factory.mktemp("out") / "zoo.parquet"
    return paramscope.zoo([str(small.root)], out=str(out), partition_rows=7, **LIGHT), out


def expected(zoo: Zoo) -> dict[Path, dict[str, tuple[int, str]]]:
    return {f: library_hashes(f) for f in zoo.files if f not in zoo.broken and f.suffix != ".pkl"}


def table_rows(out: Path) -> list[dict]:
    return pq.read_table(out).to_pylist()


def test_every_tensor_hash_equals_the_librarys(small, small_run):
    _, out = small_run
    rows = {r["path"]: r for r in table_rows(out)}
    assert set(rows) == {str(f) for f in small.files}  # every file once, nothing else
    for path, tensors in expected(small).items():
        got = {t["name"]: (t["nbytes"], t["hash"]) for t in rows[str(path)]["tensors"]}
        if path.suffix == ".gguf":  # GGUF names its tensors its own way; compare the contents
            assert sorted(got.values()) == sorted(tensors.values()), path
        else:
            assert got == tensors, path


def test_duplicates_and_savings_equal_an_independent_count(small, small_run):
    result, _ = small_run
    copies: Counter[str] = Counter()
    files: dict[str, set[Path]] = {}
    size: dict[str, int] = {}
    for path, tensors in expected(small).items():
        for nbytes, h in tensors.values():
            if nbytes:
                copies[h] += 1
                files.setdefault(h, set()).add(path)
                size[h] = nbytes
    s = result.summary
    assert s.distinct_tensors == len(copies)
    assert s.dedup_saved_bytes == sum(size[h] * (n - 1) for h, n in copies.items())
    assert s.duplicate_copies == sum(n - 1 for n in copies.values())
    assert s.shared_tensors == sum(1 for h in copies if len(files[h]) > 1)
    top = s.top_shared[0]
    assert top.saved_bytes == max(size[h] * (n - 1) for h, n in copies.items())


def test_same_model_and_same_base_groups_are_the_ones_built(small, small_run):
    s = small_run[0].summary
    assert sorted(sorted(g.models) for g in s.same_model) == sorted(sorted(g) for g in small.same_model)
    assert sorted(sorted(g.models) for g in s.same_base) == sorted(sorted(g) for g in small.same_base)
    assert all(0.5 <= g.share < 1 for g in s.same_base)


def test_unsafe_and_broken_files_are_rows_and_the_run_goes_on(small, small_run):
    result, out = small_run
    s = result.summary
    assert {n.path for n in s.unsafe} == {str(p) for p in small.unsafe}
    assert {n.path for n in s.errors} == {str(p) for p in small.broken}
    rows = {r["path"]: r for r in table_rows(out)}
    evil = rows[str(next(p for p in small.unsafe if p.suffix == ".pkl"))]
    assert evil["could_run_code"] and evil["n_tensors"] == 0
    assert {"global": "os.system", "status": "dangerous", "count": 1} in evil["globals"]
    sneaky = rows[str(next(p for p in small.unsafe if p.suffix == ".pt"))]
    assert sneaky["error"] is None and sneaky["safety"] == "could run code" and sneaky["n_tensors"] == 1
    assert result.exit_code == 2


def test_totals_are_exact(small, small_run):
    result, _ = small_run
    s = result.summary
    readable = expected(small)
    assert s.files == len(small.files)
    assert s.bytes == sum(f.stat().st_size for f in small.files)
    assert s.tensors == sum(len(t) for t in readable.values())
    assert s.bytes_hashed == sum(n for t in readable.values() for n, _ in t.values())
    by_type = {t.dtype: t.bytes for t in s.by_type}
    assert sum(by_type.values()) == s.bytes_hashed
    # parameters: every readable tensor's elements, from the library's bytes and the stored type
    assert s.params == sum(_elements(f, name, n) for f, t in readable.items() for name, (n, _) in t.items())
    families = {f.family: f for f in s.by_family}
    assert families["llama"].files == 2  # the two GGUF files, by general.architecture


def _elements(path: Path, name: str, nbytes: int) -> int:
    from safetensors import safe_open

    if path.suffix == ".safetensors":
        with safe_open(str(path), framework="numpy") as f:
            return int(f.get_tensor(name).size)
    return nbytes // (2 if ("q_proj" in name or "attn_q" in name) else 4)


def test_shards_share_their_model_key(small, small_run):
    _, out = small_run
    rows = table_rows(out)
    for model, files in small.shards.items():
        assert {r["path"] for r in rows if r["model"] == model} == {str(f) for f in files}
    assert model_key("/d", "m-00001-of-00003.gguf") == model_key("/d", "m-00003-of-00003.gguf") == "/d/m"


def test_a_stopped_run_resumes_without_reading_twice(small, tmp_path):
    out = tmp_path / "zoo.parquet"
    seen = []

    def stop_after_ten(p):
        seen.append(p.row["path"])
        if len(seen) == 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        paramscope.zoo([str(small.root)], out=str(out), partition_rows=4, progress=stop_after_ten, **LIGHT)
    written = Store(str(out)).done()
    assert set(written) == set(seen)  # a stop writes what had finished: nothing lost
    again = paramscope.zoo([str(small.root)], out=str(out), partition_rows=4, **LIGHT)
    assert again.stats.files_resumed == 10
    assert again.stats.files_read == len(small.files) - 10
    paths = [r["path"] for r in table_rows(out)]
    assert sorted(paths) == sorted(str(f) for f in small.files)  # each once: nothing counted twice
    fresh = paramscope.zoo([str(small.root)], out=str(tmp_path / "fresh.parquet"), **LIGHT)
    assert fresh.summary == again.summary


def test_fsspec_urls_read_the_same_as_local_paths(small, small_run, tmp_path):
    fs = fsspec.filesystem("memory")
    folder = small.root / "set0000"
    for f in small.files:
        if folder in f.parents:
            fs.pipe(f"/zoo/{f.relative_to(folder).as_posix()}", f.read_bytes())
    remote = paramscope.zoo(["memory://zoo"], out=str(tmp_path / "m.parquet"), **LIGHT)
    local = {r["path"]: r for r in table_rows(small_run[1])}
    rows = table_rows(tmp_path / "m.parquet")
    assert len(rows) == sum(1 for f in small.files if folder in f.parents)
    for r in rows:
        twin = local[str(folder / r["path"].removeprefix("memory:///zoo/"))]
        for key in ("format", "family", "params", "n_tensors", "bytes_by_type", "safety", "could_run_code",
                    "tensors", "bytes_hashed"):
            assert r[key] == twin[key], (r["path"], key)
    assert remote.summary.dedup_saved_bytes > 0
    fs.rm("/zoo", recursive=True)


def test_an_unreadable_path_is_a_row(tmp_path):
    result = paramscope.zoo([str(tmp_path / "missing"), "nosuchprotocol://x/y"], out=str(tmp_path / "o"),
                            **LIGHT)
    errors = {n.path: n.detail for n in result.summary.errors}
    assert set(errors) == {str(tmp_path / "missing"), "nosuchprotocol://x/y"}
    assert "cannot be read" in errors[str(tmp_path / "missing")]
    assert result.exit_code == 0


def test_walk_finds_model_files_only(small):
    items = walk([str(small.root)])
    assert sorted(i.url for i in items) == sorted(str(f) for f in small.files)  # no index, no config
    assert not any(i.url.endswith(".json") for i in items)


@pytest.mark.slow  # runs long: two zoo runs in subprocesses, each starting dask
def test_the_cli_prints_the_summary_and_json(small, tmp_path):
    env = {**os.environ, "COLUMNS": "80"}
    done = subprocess.run([sys.executable, "-m", "paramscope", "zoo", str(small.root / "set0000"), "--out",
                           str(tmp_path / "c.parquet"), "--workers", "1"], capture_output=True, text=True,
                          timeout=300, env=env)
    assert done.returncode == 2, done.stderr
    assert "deduplication would save" in done.stdout and "os.system" in done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) <= 80
    again = subprocess.run([sys.executable, "-m", "paramscope", "zoo", str(small.root / "set0000"), "--out",
                            str(tmp_path / "c.parquet"), "--workers", "1", "--json"], capture_output=True,
                           text=True, timeout=300)
    data = json.loads(again.stdout)
    assert data["run"]["files_read"] == 0 and data["run"]["files_resumed"] == data["totals"]["files"]


@pytest.mark.slow  # runs long: a zoo run in a subprocess, starting dask
def test_a_busy_dask_port_is_not_an_error_line(tmp_path):
    """Another cluster on 8787 (the scheduler's HTTP port even without a dashboard): distributed warns and
    takes another port; stderr, where `--json` users read errors, stays empty."""
    import errno
    import socket

    holder = socket.socket()
    try:
        holder.bind(("", 8787))
        holder.listen()
    except OSError as e:  # held already (another test's cluster): the situation under test anyway
        assert e.errno == errno.EADDRINUSE
    (tmp_path / "m").mkdir()
    with holder:
        done = subprocess.run([sys.executable, "-m", "paramscope", "zoo", str(tmp_path / "m"), "--out",
                               str(tmp_path / "z.parquet"), "--workers", "1", "--json"], capture_output=True,
                              text=True, timeout=300)
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_out_must_be_a_folder(tmp_path):
    (tmp_path / "file.parquet").write_bytes(b"x")
    with pytest.raises(paramscope.errors.UsageError):
        paramscope.zoo([str(tmp_path)], out=str(tmp_path / "file.parquet"), **LIGHT)


def test_real_models(gemma_gguf, gemma_gguf_reference, minilm_dir, tmp_path):
    result = paramscope.zoo([str(gemma_gguf), str(minilm_dir)], out=str(tmp_path / "r.parquet"), **LIGHT)
    rows = {Path(r["path"]).name: r for r in table_rows(tmp_path / "r.parquet")}
    gemma = rows[gemma_gguf.name]
    assert gemma["params"] == paramscope.inspect(str(gemma_gguf)).inventory.total_params
    theirs = {t.name: hashlib.sha256(t.data.tobytes()).hexdigest()
              for t in gemma_gguf_reference.tensors}  # gguf-py's reader (conftest)
    assert {t["name"]: t["hash"] for t in gemma["tensors"]} == theirs
    (scanned,) = paramscope.scan(str(gemma_gguf)).verdicts
    assert gemma["safety"] == scanned.status == "safe"  # this GGUF holds no chat template
    minilm = rows["model.safetensors"]
    assert minilm["family"] == "bert" and minilm["safety"] == "safe"
    inspected = paramscope.inspect(str(minilm_dir / "model.safetensors"))
    assert minilm["params"] == inspected.inventory.total_params
    assert result.summary.errors == ()


def test_a_gguf_chat_template_is_named_as_scan_names_it(tmp_path):
    """A GGUF's chat template is a Jinja program front ends run: the zoo's row says what `scan` says
    (not judged, "safe to load"), never "carries no code"."""
    from builders.scan_corpus import gguf_with_template

    gguf_with_template(tmp_path / "chat.gguf", "{{ messages[0]['content'] }}")
    paramscope.zoo([str(tmp_path / "chat.gguf")], out=str(tmp_path / "r.parquet"), **LIGHT)
    (row,) = table_rows(tmp_path / "r.parquet")
    (scanned,) = paramscope.scan(str(tmp_path / "chat.gguf")).verdicts
    assert scanned.not_judged and row["safety"] == scanned.status != "safe"
    assert not row["could_run_code"]


@pytest.mark.slow
def test_a_thousand_files_on_two_worker_processes_with_one_killed(tmp_path):
    """The issue's scale test: ≥ 1,000 files, a LocalCluster of 2 worker processes, one worker killed
    mid-run; the run completes with every file once and the totals of a run nobody disturbed. Dask is
    told to give up on a task at the first worker that dies under it (allowed-failures 0), so the
    killed batch comes back as KilledWorker and the run splits it into one task per file."""
    import dask
    from distributed import Client, LocalCluster

    zoo = build_zoo(tmp_path / "zoo", repeat=44)  # 23 files a folder
    assert len(zoo.files) >= 1000
    killed = threading.Event()
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, Client(cluster) as client:
        pids = client.run(os.getpid)

        def kill_one(p):
            if p.files_done == 300 and not killed.is_set():
                os.kill(next(iter(pids.values())), signal.SIGKILL)
                killed.set()

        result = paramscope.zoo([str(zoo.root)], out=str(tmp_path / "z.parquet"),
                                scheduler=cluster.scheduler_address, progress=kill_one)
    assert killed.is_set()
    paths = [r["path"] for r in table_rows(tmp_path / "z.parquet")]
    assert sorted(paths) == sorted(str(f) for f in zoo.files)
    s = result.summary
    assert {n.path for n in s.errors} == {str(p) for p in zoo.broken}  # no file blamed for the kill
    assert {n.path for n in s.unsafe} == {str(p) for p in zoo.unsafe}
    assert len(s.same_model) == len(zoo.same_model)
    calm = paramscope.zoo([str(zoo.root)], out=str(tmp_path / "calm.parquet"), **LIGHT)
    assert calm.summary == s


@pytest.mark.slow  # runs long: a zoo of every hostile file, floods included
def test_every_hostile_file_is_a_row_and_nothing_runs(tmp_path):
    """The malformed safetensors and GGUF files and the pickle attacks of the readers' own tests, in one
    zoo: each is a row (an error, or a verdict naming what it would run), none stops the run, and no
    payload runs (each would create its marker file)."""
    zoo = tmp_path / "hostile"
    zoo.mkdir()
    markers = tmp_path / "markers"
    markers.mkdir()
    for case, build, _error, _fragment in safetensors_malformed.SINGLE_FILE_CASES:
        build(zoo / f"{case}.safetensors")
    for case, data, _error, _fragment in gguf_malformed.CASES:
        (zoo / f"{case}.gguf").write_bytes(data)
    for c in [*pickle_attacks.PAYLOADS, *pickle_attacks.ERRORS]:
        c.build(zoo / f"{c.id}{c.suffix}", markers / c.id)
    result = paramscope.zoo([str(zoo)], out=str(tmp_path / "h.parquet"), **LIGHT)
    rows = {Path(r["path"]).name: r for r in table_rows(tmp_path / "h.parquet")}
    written = {p.name for p in zoo.iterdir() if p.suffix != ".tar"}  # torch's pre-1.6 tar: not a name we read
    assert set(rows) == written, written ^ set(rows)
    assert rows["fifo.bin"]["error"] and rows["dev-zero-symlink.pt"]["error"]
    # a GGUF whose block count is implausible fails `inspect`'s architecture, which a file's inventory
    # here does not build: its tensors are sound
    architecture_only = {"block-count-huge.gguf"}
    for case, *_ in [*safetensors_malformed.SINGLE_FILE_CASES, *gguf_malformed.CASES]:
        name = f"{case}.{'gguf' if (zoo / f'{case}.gguf').exists() else 'safetensors'}"
        assert bool(rows[name]["error"]) != (name in architecture_only), name
    for c in pickle_attacks.PAYLOADS:
        row = rows[f"{c.id}{c.suffix}"]
        assert row["could_run_code"], c.id
        assert any(g["global"] == c.names for g in row["globals"]), (c.id, row["globals"])
    for c in pickle_attacks.ERRORS:
        if c.suffix == ".tar":
            continue
        row = rows[f"{c.id}{c.suffix}"]
        assert row["error"] or row["safety"] in ("unreadable", "could run code"), c.id
    assert list(markers.iterdir()) == []
    assert result.exit_code == 2


def _brute_force(files: list[tuple[str, list[tuple[str, int]]]]) -> dict:
    """Duplicates and same-model groups counted the slow, obvious way."""
    occurrences = [(f, h, n) for f, tensors in files for h, n in tensors if n]
    saved = sum(n for i, (_f, h, n) in enumerate(occurrences) if any(o[1] == h for o in occurrences[:i]))
    contents = {f: frozenset(h for h, n in tensors if n) for f, tensors in files}
    contents = {f: c for f, c in contents.items() if c}  # nothing hashed: no content to be equal
    groups = sorted(sorted(g) for g in {frozenset(f for f in contents if contents[f] == c)
                                         for c in contents.values()} if len(g) > 1)
    shared = {h for _f, h, _n in occurrences if len({f for f, x, _ in occurrences if x == h}) > 1}
    # same base: distinct contents sharing ≥ half the bytes of the larger, joined transitively
    size = {h: n for _f, h, n in occurrences}
    distinct = sorted({c for c in contents.values()}, key=sorted)
    comps = [{c} for c in distinct]
    for a in distinct:
        for b in distinct:
            total = max(sum(size[h] for h in a), sum(size[h] for h in b))
            if a != b and sum(size[h] for h in a & b) >= 0.5 * total:
                ca = next(x for x in comps if a in x)
                cb = next(x for x in comps if b in x)
                if ca is not cb:
                    comps.remove(cb)
                    ca |= cb
    bases = sorted(sorted(f for f in contents if contents[f] in comp) for comp in comps if len(comp) > 1)
    return {"saved": saved, "groups": groups, "shared": len(shared), "bases": bases,
            "copies": len(occurrences) - len({h for _f, h, _n in occurrences})}


_contents = st.sampled_from([f"{i:064x}" for i in range(6)])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(_contents, st.sampled_from([0, 4, 16, 100])), max_size=5), min_size=1,
                max_size=8))
def test_summary_equals_a_brute_force_count(files):
    """Random tables of files and tensor contents: the summary's duplicates and same-model groups
    against the obvious quadratic count (a content's size is fixed by its hash, as in real files)."""
    import pyarrow as pa

    from paramscope.app.zoo.store import schema
    from paramscope.app.zoo.summary import summarize

    size = {h: n for tensors in files for h, n in tensors}  # the last size drawn for a content wins
    named = [(f"/z/f{i}", [(h, size[h]) for h, _ in tensors]) for i, tensors in enumerate(files)]
    rows = [{"path": f, "name": f, "model": f, "size": 0, "tensors": [
        {"name": f"t{j}", "dtype": "U8", "shape": [n], "nbytes": n, "params": n, "hash": h}
        for j, (h, n) in enumerate(tensors)], "globals": [], "could_run_code": False, "bytes_hashed": 0}
        for f, tensors in named]
    s = summarize(pa.Table.from_pylist(rows, schema=schema()))
    expect = _brute_force(named)
    assert s.dedup_saved_bytes == expect["saved"]
    assert s.duplicate_copies == expect["copies"]
    assert s.shared_tensors == expect["shared"]
    assert sorted(sorted(g.models) for g in s.same_model) == expect["groups"]
    assert sorted(sorted(g.models) for g in s.same_base) == expect["bases"]


def test_a_task_holds_one_chunk_whatever_the_file_size(tmp_path):
    """A 256 MiB file (sparse: zeros on no disk blocks) described with a bounded Python allocation."""
    import tracemalloc

    from builders.safetensors_files import write_safetensors
    from paramscope.app.zoo.task import CHUNK, describe

    path = write_safetensors(tmp_path / "big.safetensors", {"a": ("F32", [64, 1 << 20]), "b": ("BF16", [8])})
    item = walk([str(path)])[0]
    tracemalloc.start()
    row = describe(item)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert row["error"] is None and row["bytes_hashed"] == (256 << 20) + 16
    zeros = hashlib.sha256()
    for _ in range(256):
        zeros.update(bytes(1 << 20))
    assert row["tensors"][0]["hash"] == zeros.hexdigest()
    assert peak < 2 * CHUNK, peak


@pytest.mark.slow  # runs long: a zoo run in a subprocess, starting dask
def test_the_html_page_holds_the_summary_and_no_script(small, small_run, tmp_path):
    page = tmp_path / "zoo.html"
    args = ["zoo", str(small.root), "--out", str(small_run[1]), "--html", str(page), "--workers", "1"]
    done = subprocess.run([sys.executable, "-m", "paramscope", *args], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2, done.stderr
    html = page.read_text()
    assert "deduplication would save" in html and "os.system" in html
    assert "<script" not in html.lower()


def test_report_of_a_zoo_dataset_is_its_summary_page(small, small_run, tmp_path):
    """`paramscope report zoo.parquet`: the summary read back from the parts equals the run's own, and
    the page holds it (the issue's "page in report")."""
    from paramscope.app.zoo import zoo_report

    result, out = small_run
    back = zoo_report(str(out))
    assert back.summary == result.summary and back.stats is None
    assert back.to_json()["totals"] == result.to_json()["totals"]
    page = tmp_path / "report.html"
    done = subprocess.run([sys.executable, "-m", "paramscope", "report", str(out), "-o", str(page)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    html = page.read_text()
    assert "deduplication would save" in html and "os.system" in html and "read back from" in html
    assert f"{result.summary.files:,} files" in html
    assert "<script" not in html.lower()


def test_report_of_an_empty_folder_is_not_a_zoo(tmp_path):
    from paramscope.app.zoo import zoo_report
    from paramscope.errors import SourceError

    with pytest.raises(SourceError, match="no Parquet parts"):
        zoo_report(str(tmp_path))
