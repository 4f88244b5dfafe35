"""The zoo's table, summed up: totals per family and stored type, the unsafe and unreadable files, and
what deduplication would find.

Conventions (docs/zoo.md):
- a *duplicate* is a (non-empty) tensor whose stored bytes hash (SHA-256) equal another's, wherever it
  is; the bytes deduplication would save are, for each distinct content, its size × (copies − 1): a
  content-addressed store keeps one copy. Tensors without a byte range (compressed zip members) take no part.
- a *model* is the group key of ``walk`` (a file, or a set of shards); its *content* is the set of its
  tensor hashes, each weighed by its bytes.
- *same model*: two models of equal content (every tensor equal: copies under other names, re-uploads).
- *same base*: two models sharing at least ``SAME_BASE_SHARE`` of the bytes of the larger one's content
  (most tensors equal: fine-tunes that froze most layers, a base and its merged adapters). Groups are the
  connected components of that relation, so a chain of fine-tunes is one group.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from paramscope.records import record

if TYPE_CHECKING:
    import pyarrow as pa

SAME_BASE_SHARE = 0.5
TOP_SHARED = 10  # the most bytes-saving duplicate contents listed
# a content shared by more models than this (an all-zero bias, a common tokenizer embedding) says nothing
# about which models are related; it is left out of the pairing, which would grow as its square
MAX_MODELS_PER_CONTENT = 256
UNSAFE_STATUSES = ("dangerous", "unknown")


@record
class FamilyTotal:
    family: str  # "" when no file of it says
    files: int
    models: int
    params: int
    bytes: int


@record
class TypeTotal:
    dtype: str
    tensors: int
    bytes: int


@record
class FileNote:
    path: str
    name: str  # the path below the root given
    safety: str
    detail: str  # the flagged globals, or the error (without the path it starts with)


@record
class SharedTensor:
    hash: str
    nbytes: int
    copies: int
    files: int
    names: tuple[str, ...]  # the distinct tensor names it goes by (a few)

    @property
    def saved_bytes(self) -> int:
        return self.nbytes * (self.copies - 1)


@record
class ModelGroup:
    models: tuple[str, ...]  # model keys (paths, or a shard set's folder/prefix)
    names: tuple[str, ...]  # the same, below the roots given
    share: float  # same model: 1.0; same base: the smallest share of any pair that joined the group


@record
class Summary:
    files: int
    models: int
    bytes: int  # size of the files
    params: int
    tensors: int
    bytes_hashed: int
    by_family: tuple[FamilyTotal, ...]
    by_type: tuple[TypeTotal, ...]
    unsafe: tuple[FileNote, ...]  # could run code on loading
    errors: tuple[FileNote, ...]  # could not be read (wholly or in part)
    distinct_tensors: int  # distinct contents among the hashed tensors
    shared_tensors: int  # contents found in two files or more
    duplicate_copies: int  # tensors that are a copy of another
    dedup_saved_bytes: int
    top_shared: tuple[SharedTensor, ...]
    same_model: tuple[ModelGroup, ...]
    same_base: tuple[ModelGroup, ...]


def summarize(table: pa.Table) -> Summary:
    rows = table.select(["path", "name", "model", "size", "family", "params", "bytes_by_type", "safety",
                         "could_run_code", "globals", "error", "bytes_hashed"]).to_pylist()
    rows.sort(key=lambda r: r["path"])  # the table is in the order tasks finished: any order
    tensors = _tensors(table)
    content = _content(tensors)
    copies: Counter[str] = Counter()
    files_of: dict[str, set[str]] = defaultdict(set)
    names_of: dict[str, set[str]] = defaultdict(set)
    size_of: dict[str, int] = {}
    for path, _model, name, h, nbytes, _dtype in tensors:
        if h is None or nbytes == 0:  # an empty tensor is no copy of anything worth saving
            continue
        copies[h] += 1
        files_of[h].add(path)
        if len(names_of[h]) < 3:
            names_of[h].add(name)
        size_of[h] = nbytes
    shared = [SharedTensor(h, size_of[h], n, len(files_of[h]), tuple(sorted(names_of[h])))
              for h, n in copies.items() if n > 1]
    shared.sort(key=lambda s: (-s.saved_bytes, s.hash))
    same_model, same_base = _groups(content, _model_names(rows))
    return Summary(
        files=len(rows), models=len({r["model"] for r in rows}), bytes=sum(r["size"] or 0 for r in rows),
        params=sum(r["params"] or 0 for r in rows), tensors=len(tensors),
        bytes_hashed=sum(r["bytes_hashed"] or 0 for r in rows),
        by_family=_by_family(rows), by_type=_by_type(rows, tensors),
        unsafe=tuple(FileNote(r["path"], r["name"], r["safety"], ", ".join(
            g["global"] for g in r["globals"] if g["status"] in UNSAFE_STATUSES)) for r in rows
            if r["could_run_code"]),
        errors=tuple(FileNote(r["path"], r["name"], r["safety"] or "", _without(r["error"], r["path"]))
                     for r in rows if r["error"]),
        distinct_tensors=len(copies), shared_tensors=sum(1 for s in shared if s.files > 1),
        duplicate_copies=sum(s.copies - 1 for s in shared),
        dedup_saved_bytes=sum(s.saved_bytes for s in shared), top_shared=tuple(shared[:TOP_SHARED]),
        same_model=same_model, same_base=same_base)


Tensor = tuple[str, str, str, "str | None", int, str]  # path, model, name, hash, bytes, stored type


def _tensors(table: pa.Table) -> list[Tensor]:
    """Every tensor of every row, flattened, with its file and model."""
    import pyarrow.compute as pc

    col = table.column("tensors").combine_chunks()
    flat = pc.list_flatten(col)
    parents = pc.list_parent_indices(col).to_pylist()
    paths, models = table.column("path").to_pylist(), table.column("model").to_pylist()
    fields = [flat.field(k).to_pylist() for k in ("name", "hash", "nbytes", "dtype")]
    return [(paths[p], models[p], n, h, b, d) for p, n, h, b, d in zip(parents, *fields, strict=True)]


def _by_family(rows: list[dict[str, Any]]) -> tuple[FamilyTotal, ...]:
    files: Counter[str] = Counter()
    params: Counter[str] = Counter()
    size: Counter[str] = Counter()
    models: dict[str, set[str]] = defaultdict(set)
    family_of_model: dict[str, str] = {}
    for r in rows:  # a shard without the family (a later GGUF split) takes its model's
        if r["family"]:
            family_of_model.setdefault(r["model"], r["family"])
    for r in rows:
        fam = r["family"] or family_of_model.get(r["model"], "")
        files[fam] += 1
        params[fam] += r["params"] or 0
        size[fam] += r["size"] or 0
        models[fam].add(r["model"])
    out = [FamilyTotal(f, files[f], len(models[f]), params[f], size[f]) for f in files]
    return tuple(sorted(out, key=lambda t: (-t.bytes, t.family)))


def _by_type(rows: list[dict[str, Any]], tensors: list[Tensor]) -> tuple[TypeTotal, ...]:
    size: Counter[str] = Counter()
    for r in rows:
        for dtype, n in r["bytes_by_type"] or ():
            size[dtype] += n
    count = Counter(t[5] for t in tensors)
    return tuple(sorted((TypeTotal(d, count[d], size[d]) for d in size), key=lambda t: (-t.bytes, t.dtype)))


def _without(error: str, path: str) -> str:
    """The error without the file's path in front (the row names the file)."""
    return error[len(path) + 2:] if error.startswith(f"{path}: ") else error


def _model_names(rows: list[dict[str, Any]]) -> dict[str, str]:
    """model key → the same below the root given (a file's name, or a shard set's folder/prefix)."""
    import posixpath

    out: dict[str, str] = {}
    for r in rows:
        folder = posixpath.dirname(r["name"])
        out.setdefault(r["model"], posixpath.join(folder, posixpath.basename(r["model"])))
    return out


def _content(tensors: Iterable[Tensor]) -> dict[str, dict[str, int]]:
    """model → {hash: bytes} (each distinct content once)."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for _path, model, _name, h, nbytes, _dtype in tensors:
        if h is not None and nbytes:
            out[model][h] = nbytes
    return out


def _groups(content: dict[str, dict[str, int]],
            names: dict[str, str]) -> tuple[tuple[ModelGroup, ...], tuple[ModelGroup, ...]]:
    def group(models: list[str], share: float) -> ModelGroup:
        ms = tuple(sorted(models))
        return ModelGroup(ms, tuple(names.get(m, m) for m in ms), share)

    by_content: dict[frozenset[str], list[str]] = defaultdict(list)
    for model in sorted(content):
        by_content[frozenset(content[model])].append(model)
    same_model = tuple(group(ms, 1.0) for ms in by_content.values() if len(ms) > 1)
    # same base among distinct contents: one representative per same-model group
    reps = {ms[0]: ms for ms in by_content.values()}
    total = {m: sum(content[m].values()) for m in reps}
    holders: dict[str, list[str]] = defaultdict(list)
    for m in sorted(reps):
        for h in content[m]:
            holders[h].append(m)
    shared: Counter[tuple[str, str]] = Counter()
    for h, ms in holders.items():
        if 1 < len(ms) <= MAX_MODELS_PER_CONTENT:
            nbytes = next(content[m][h] for m in ms)
            for i, a in enumerate(ms):
                for b in ms[i + 1:]:
                    shared[(a, b)] += nbytes
    parent = {m: m for m in reps}

    def find(m: str) -> str:
        while parent[m] != m:
            parent[m] = parent[parent[m]]
            m = parent[m]
        return m

    low: dict[str, float] = {}
    for (a, b), n in sorted(shared.items()):
        share = n / max(total[a], total[b], 1)
        if share >= SAME_BASE_SHARE:
            ra, rb = find(a), find(b)
            root = min(ra, rb)
            parent[ra] = parent[rb] = root
            low[root] = min(share, low.pop(ra, 1.0), low.pop(rb, 1.0) if rb != ra else 1.0)
    members: dict[str, list[str]] = defaultdict(list)
    for m in sorted(reps):
        members[find(m)].extend(reps[m])
    same_base = tuple(group(ms, round(low.get(root, 1.0), 4))
                      for root, ms in sorted(members.items()) if len(ms) > len(reps[root]))
    return same_model, same_base
