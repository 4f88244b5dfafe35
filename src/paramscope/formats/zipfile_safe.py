"""ZIP archives read from their central directory, every field checked before anything is trusted.

Layout (PKWARE APPNOTE.TXT 6.3.10): local headers and data | central directory (one 46-byte record
per member, §4.3.12) | [zip64 end record §4.3.14 and its locator §4.3.15] | end of central directory
(22 bytes + comment, §4.3.16). PyTorch writes its checkpoints this way (caffe2/serialize/
inline_container.cc, miniz): members ``ARCHIVE/data.pkl``, ``ARCHIVE/data/KEY`` stored uncompressed and
64-byte aligned, zip64 records when the archive passes 4 GiB.

Members are never extracted to disk. A member's data range is found through its local header, whose
name must match the central directory's (a mismatch is how two readers are shown two different
archives); ranges must lie inside the file and before the central directory, and may not overlap (the
"overlapping files" zip bomb). Duplicate, absolute, ``..``, backslash or NUL-carrying names and
encrypted members are refused. Deflated data is inflated with an output bound, and its CRC checked.
"""

from __future__ import annotations

import itertools
import struct
import zlib
from pathlib import PurePosixPath

from paramscope.errors import FormatError, HeaderError, OffsetError, UnsupportedError
from paramscope.records import record
from paramscope.sources.local import LocalFile

# §4.3.16: signature, disk, central directory disk, entries here, entries, its size, its offset, comment
EOCD = struct.Struct("<4sHHHHIIH")
EOCD_SIG = b"PK\x05\x06"
ZIP64_LOCATOR = struct.Struct("<4sIQI")  # §4.3.15: sig, disk with zip64 EOCD, its offset, disks
ZIP64_LOCATOR_SIG = b"PK\x06\x07"
# §4.3.14: signature, record size, made by, needed, disk, cd disk, entries here, entries, cd size, cd offset
ZIP64_EOCD = struct.Struct("<4sQHHIIQQQQ")
ZIP64_EOCD_SIG = b"PK\x06\x06"
CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")  # §4.3.12
CENTRAL_SIG = b"PK\x01\x02"
LOCAL = struct.Struct("<4sHHHHHIIIHH")  # §4.3.7
LOCAL_SIG = b"PK\x03\x04"
ZIP64_EXTRA_ID = 0x0001  # §4.5.3
MAX_COMMENT = 0xFFFF
MAX_MEMBERS = 1_000_000  # a checkpoint holds one member per storage; the largest have a few thousand
FLAG_ENCRYPTED, FLAG_UTF8 = 0x0001, 0x0800  # §4.4.4 bits 0 and 11
STORED, DEFLATED = 0, 8
# methods CPython's zipfile also inflates (numpy.load and zipfile + pickle.loads read such members;
# torch's miniz refuses them): the scan reads them as zipfile does (Lib/zipfile.py _get_decompressor)
BZIP2, LZMA = 12, 14
READABLE_METHODS = (STORED, DEFLATED, BZIP2, LZMA)
METHOD_NAMES = {1: "shrunk", 6: "imploded", 9: "deflate64", 12: "bzip2", 14: "lzma", 93: "zstd", 99: "AES"}


@record
class Member:
    name: str
    method: int  # STORED or DEFLATED
    data_offset: int  # absolute offset of the (compressed) data
    compressed_size: int
    size: int  # uncompressed
    crc: int


@record
class Archive:
    path: str
    members: dict[str, Member]  # by name, in central-directory order
    central_offset: int

    def read(self, f: LocalFile, name: str, max_bytes: int) -> bytes:
        """A member's content, at most ``max_bytes``; inflated with a bound and CRC-checked."""
        m = self.members[name]
        if m.size > max_bytes:
            raise HeaderError(self.path, f"member {name} is implausibly large", f"{m.size} bytes",
                              f"at most {max_bytes}")
        raw = f.read(m.data_offset, m.compressed_size, f"member {name}")
        data = raw if m.method == STORED else _inflate(self.path, name, raw, m.size)
        if zlib.crc32(data) != m.crc:
            raise FormatError(self.path, f"member {name} fails its CRC check",
                              f"0x{zlib.crc32(data):08x}", f"0x{m.crc:08x}")
        return data


def is_zip(head: bytes) -> bool:
    return head[:4] in (LOCAL_SIG, EOCD_SIG)


def zip_at_end(f: LocalFile) -> bool:
    """Whether a reader opens the file as an archive with members, whatever it starts with: zipfile
    takes the last end record in the file's last 64 KiB and reads the central directory right before
    that record (an archive appended to other data is shifted, not refused); it reads records while
    they fit in the directory's size, whatever count the end record gives. Every directory an end
    record names counts (``directories``)."""
    try:
        views = directories(f)
    except (FormatError, UnsupportedError):
        return False
    for _, _, cd_size, cd_offset, end in views:
        for at in (end - cd_size, cd_offset):
            if cd_size > 0 and 0 <= at <= f.size - 4 and f.read(at, 4, "the directory") == CENTRAL_SIG:
                return True
    return False


def first_member_name(head: bytes) -> str:
    """The first local header's name, from the first bytes alone (for sniffing)."""
    if len(head) < LOCAL.size or head[:4] != LOCAL_SIG:
        return ""
    n = LOCAL.unpack_from(head)[9]
    return head[LOCAL.size:LOCAL.size + n].decode("utf-8", "replace")


def open_archive(f: LocalFile) -> Archive:
    """The archive's members, validated; nothing is decompressed here."""
    eocd_at, entries, cd_size, cd_offset = _end_record(f)
    if cd_offset + cd_size > eocd_at:
        raise OffsetError(f.name, "central directory overlaps the end record",
                          f"ends at {cd_offset + cd_size}", f"at most {eocd_at}")
    raw = f.read(cd_offset, cd_size, "the central directory")
    members = _central_directory(f.name, raw, entries)
    checked = {m.name: _locate(f, m, cd_offset) for m in members}
    _check_overlaps(f.name, list(checked.values()))
    return Archive(f.name, checked, cd_offset)


# --- end records ----------------------------------------------------------------------------------

def _last_end_record(f: LocalFile) -> tuple[bytes, int]:
    """The file's last 64 KiB and more (a comment's room) and where the last whole end record starts in
    them (-1: none), as Python's zipfile looks for it."""
    tail_len = min(f.size, EOCD.size + MAX_COMMENT)
    tail = f.read(f.size - tail_len, tail_len, "the end of central directory record")
    at = tail.rfind(EOCD_SIG)
    while at >= 0 and at + EOCD.size > len(tail):
        at = tail.rfind(EOCD_SIG, 0, at)
    return tail, at


def _end_record(f: LocalFile) -> tuple[int, int, int, int]:
    """(offset of the end record, member count, central directory size and offset)."""
    tail, at = _last_end_record(f)
    tail_len = len(tail)
    if at < 0:
        raise HeaderError(f.name, "no zip end of central directory record",
                          f"none in the last {tail_len} bytes", "PK\\x05\\x06")
    _, disk, cd_disk, here, entries, cd_size, cd_offset, _comment = EOCD.unpack_from(tail, at)
    eocd_at = f.size - tail_len + at
    if disk or cd_disk or here != entries:
        raise UnsupportedError(f"{f.name}: multi-disk (spanned) zip archives are not read "
                               f"(found disk {disk}, central directory on disk {cd_disk})")
    if 0xFFFF in (here, entries) or 0xFFFFFFFF in (cd_size, cd_offset):
        return _zip64_end_record(f, eocd_at)
    return eocd_at, entries, cd_size, cd_offset


def _zip64_end_record(f: LocalFile, eocd_at: int) -> tuple[int, int, int, int]:
    if eocd_at < ZIP64_LOCATOR.size:
        raise HeaderError(f.name, "zip64 fields but no zip64 locator before the end record")
    sig, _, z64_at, _ = ZIP64_LOCATOR.unpack(f.read(eocd_at - ZIP64_LOCATOR.size, ZIP64_LOCATOR.size,
                                                     "the zip64 locator"))
    if sig != ZIP64_LOCATOR_SIG:
        raise HeaderError(f.name, "zip64 fields but no zip64 locator before the end record",
                          repr(sig), repr(ZIP64_LOCATOR_SIG))
    if z64_at + ZIP64_EOCD.size > eocd_at - ZIP64_LOCATOR.size:
        raise OffsetError(f.name, "zip64 end record lies outside the archive", z64_at,
                          f"at most {eocd_at - ZIP64_LOCATOR.size - ZIP64_EOCD.size}")
    fields = ZIP64_EOCD.unpack(f.read(z64_at, ZIP64_EOCD.size, "the zip64 end record"))
    sig, _, _, _, disk, cd_disk, here, entries, cd_size, cd_offset = fields
    if sig != ZIP64_EOCD_SIG:
        raise HeaderError(f.name, "bad zip64 end record signature", repr(sig), repr(ZIP64_EOCD_SIG))
    if disk or cd_disk or here != entries:
        raise UnsupportedError(f"{f.name}: multi-disk (spanned) zip archives are not read")
    return z64_at, entries, cd_size, cd_offset


# --- central directory ----------------------------------------------------------------------------

def _central_directory(path: str, raw: bytes, entries: int) -> list[Member]:
    if entries > MAX_MEMBERS or entries * CENTRAL.size > len(raw):
        raise HeaderError(path, "zip member count does not fit its central directory", entries,
                          f"at most {min(MAX_MEMBERS, len(raw) // CENTRAL.size)}")
    members, names, pos = [], set(), 0
    for _ in range(entries):
        member, pos = _central_entry(path, raw, pos)
        if member.name in names:
            raise HeaderError(path, "zip archive has two members with the same name", repr(member.name))
        names.add(member.name)
        members.append(member)
    return members


def _central_entry(path: str, raw: bytes, pos: int) -> tuple[Member, int]:
    if pos + CENTRAL.size > len(raw):
        raise HeaderError(path, "central directory ends inside a record", f"{len(raw)} bytes",
                          f"at least {pos + CENTRAL.size}")
    (sig, _, _, flags, method, _, _, crc, csize, usize, n_name, n_extra, n_comment, disk, _, _,
     local_at) = CENTRAL.unpack_from(raw, pos)
    if sig != CENTRAL_SIG:
        raise HeaderError(path, f"bad central directory record at offset {pos}", repr(sig),
                          repr(CENTRAL_SIG))
    end = pos + CENTRAL.size + n_name + n_extra + n_comment
    if end > len(raw):
        raise HeaderError(path, "central directory record runs past the directory", end,
                          f"at most {len(raw)}")
    name_raw = raw[pos + CENTRAL.size:pos + CENTRAL.size + n_name]
    name = _member_name(path, name_raw, flags)
    extra = raw[pos + CENTRAL.size + n_name:pos + CENTRAL.size + n_name + n_extra]
    usize, csize, local_at = _zip64_extra(path, name, extra, usize, csize, local_at)
    _check_member(path, name, flags, method, disk)
    return Member(name, method, local_at, csize, usize, crc), end


def _member_name(path: str, raw: bytes, flags: int) -> str:
    name = raw.decode("utf-8", "replace") if flags & FLAG_UTF8 else raw.decode("cp437")
    parts = PurePosixPath(name).parts
    if (not name or "\x00" in name or "\\" in name or name.startswith("/") or ".." in parts
            or (len(name) > 1 and name[1] == ":")):
        raise HeaderError(path, "zip member name escapes the archive", repr(name),
                          "a relative name without '..', '\\' or NUL")
    return name


def _zip64_extra(path: str, name: str, extra: bytes, usize: int, csize: int,
                 local_at: int) -> tuple[int, int, int]:
    """§4.5.3: the 64-bit values of the fields set to 0xFFFFFFFF, in this order, in extra block 0x0001."""
    wanted = [usize == 0xFFFFFFFF, csize == 0xFFFFFFFF, local_at == 0xFFFFFFFF]
    if not any(wanted):
        return usize, csize, local_at
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, pos)
        if tag == ZIP64_EXTRA_ID:
            if pos + 4 + size > len(extra) or size // 8 < sum(wanted):
                break
            values = list(struct.unpack_from(f"<{size // 8}Q", extra, pos + 4))
            out = [usize, csize, local_at]
            for i in range(3):
                if wanted[i]:
                    out[i] = values.pop(0)
            return out[0], out[1], out[2]
        pos += 4 + size
    raise HeaderError(path, f"member {name} has zip64 sizes without a zip64 extra field")


def _check_member(path: str, name: str, flags: int, method: int, disk: int) -> None:
    if flags & FLAG_ENCRYPTED or method == 99:
        raise UnsupportedError(f"{path}: zip member {name} is encrypted (encrypted members are refused)")
    if method not in (STORED, DEFLATED):
        raise UnsupportedError(f"{path}: zip member {name} uses compression method "
                               f"{METHOD_NAMES.get(method, method)} (found {method}, expected 0 stored "
                               "or 8 deflate)")
    if disk:
        raise UnsupportedError(f"{path}: zip member {name} lies on disk {disk} of a spanned archive")


def _locate(f: LocalFile, m: Member, cd_offset: int) -> Member:
    """The member with its data offset: past its local header, whose name must match."""
    if m.data_offset + LOCAL.size > cd_offset:
        raise OffsetError(f.name, f"member {m.name} starts inside the central directory",
                          m.data_offset, f"below {cd_offset - LOCAL.size}")
    fields = LOCAL.unpack(f.read(m.data_offset, LOCAL.size, f"local header of {m.name}"))
    sig, _, flags, method, n_name, n_extra = fields[0], fields[1], fields[2], fields[3], fields[9], fields[10]
    if sig != LOCAL_SIG:
        raise HeaderError(f.name, f"member {m.name} has no local header at offset {m.data_offset}",
                          repr(sig), repr(LOCAL_SIG))
    local_name = f.read(m.data_offset + LOCAL.size, n_name, f"local name of {m.name}")
    if _member_name(f.name, local_name, flags) != m.name or method != m.method:
        raise HeaderError(f.name, "a member's local header disagrees with the central directory",
                          repr(local_name.decode("utf-8", "replace")), repr(m.name))
    start = m.data_offset + LOCAL.size + n_name + n_extra
    if m.method == STORED and m.compressed_size != m.size:
        raise HeaderError(f.name, f"stored member {m.name} has different stored and real sizes",
                          m.compressed_size, m.size)
    if start + m.compressed_size > cd_offset:
        raise OffsetError(f.name, f"member {m.name} runs into the central directory",
                          f"ends at {start + m.compressed_size}", f"at most {cd_offset}")
    return Member(m.name, m.method, start, m.compressed_size, m.size, m.crc)


def _check_overlaps(path: str, members: list[Member]) -> None:
    ordered = sorted(members, key=lambda m: m.data_offset)
    for a, b in itertools.pairwise(ordered):
        if a.data_offset + a.compressed_size > b.data_offset:
            raise OffsetError(path, f"zip members {a.name} and {b.name} overlap",
                              f"{a.name} ends at {a.data_offset + a.compressed_size}",
                              f"at most {b.data_offset}")


def _inflate(path: str, name: str, raw: bytes, size: int) -> bytes:
    """Raw deflate (§4.4.5 method 8) into at most ``size`` bytes: a zip bomb stops at its declared size."""
    d = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        out = d.decompress(raw, size)
        more = d.unconsumed_tail or not d.eof
    except zlib.error as e:
        raise FormatError(path, f"member {name} does not inflate", str(e)) from None
    if more or len(out) != size:
        found = f"more than {size} bytes" if d.unconsumed_tail else f"{len(out)} bytes"
        raise FormatError(path, f"member {name} inflates to other than its declared size", found, size)
    return out


# --- a lenient survey, for the safety scan ---------------------------------------------------------
# ``open_archive`` refuses an archive at its first fault. The scan must instead see every member that
# any reader could see: the central directory's view (zipfile, torch's miniz), each local header's view
# (streaming readers walk local headers from the start), duplicates, members that hide inside others.
# Every fault is kept as a problem: where two readers could see different bytes, nothing is verified.

@record
class SurveyMember:
    name: str
    method: int
    data_offset: int  # absolute offset of the (compressed) data
    compressed_size: int
    size: int
    crc: int
    view: str  # "central directory" or "local header at N"
    encrypted: bool = False


@record
class Survey:
    members: tuple[SurveyMember, ...]
    problems: tuple[str, ...]


def survey(f: LocalFile, max_members: int = MAX_MEMBERS) -> Survey:
    """Every member either view of the archive shows, and every way the views disagree; every central
    directory an end record names (``directories``): readers differ in which one they take."""
    problems: list[str] = []
    try:
        views = directories(f, problems)
    except (FormatError, UnsupportedError) as e:
        problems.append(f"central directory unreadable: {_short(e, f.name)}")
        views = []
    if len({v[1:4] for v in views}) > 1:
        problems.append("the end records name different central directories ("
                        + "; ".join(f"{who}: {n} members at offset {at}" for who, n, _, at, _ in views)
                        + "): readers differ in which one they read")
    # a directory two records name alike is read once (torch's zip64 record repeats the 32-bit one)
    placed = list(dict.fromkeys(_placed(f, v[1:], problems) for v in views)) or [None]
    found = [m for view in placed for m in _survey_directory(f, view, max_members, problems)]
    if len(placed) > 1:  # a member two directories list alike is read once
        found = list(dict.fromkeys(found))
    return Survey(tuple(found), tuple(dict.fromkeys(problems)))


def directories(f: LocalFile, problems: list[str] | None = None) -> list[tuple[str, int, int, int, int]]:
    """Every central directory a reader takes from the end records: (who takes it, member count, its
    size, its offset, where the directory ends when no data is prepended).

    - the 32-bit end record (a reader without zip64 support, or zipfile and old miniz when no zip64
      record is found);
    - CPython's zipfile (``_EndRecData64``): when a locator precedes the end record, the zip64 record
      right before the locator, whatever the 32-bit fields say and wherever the locator points;
    - miniz (``mz_zip_reader_read_central_dir``, torch's reader): a locator makes the archive zip64;
      the copy torch carries reads the zip64 record where the locator points, newer miniz tries right
      before the locator first and falls back to the locator's offset.

    Disk numbers and the count of members "on this disk" are not checked by zipfile (miniz refuses a
    spanned archive): they are ``problems``, not a reason to read no directory.
    """
    problems = [] if problems is None else problems
    tail, at = _last_end_record(f)
    if at < 0:
        raise HeaderError(f.name, "no zip end of central directory record",
                          f"none in the last {len(tail)} bytes", "PK\\x05\\x06")
    _, disk, cd_disk, here, entries, cd_size, cd_offset, _comment = EOCD.unpack_from(tail, at)
    eocd_at = f.size - len(tail) + at
    if disk or cd_disk or here != entries:
        problems.append(f"the end record describes a spanned archive (disk {disk}, directory on disk "
                        f"{cd_disk}, {here} of {entries} members here): zipfile reads it, miniz does not")
    saturated = 0xFFFF in (here, entries) or 0xFFFFFFFF in (cd_size, cd_offset)
    views = [] if saturated else [("the end record", entries, cd_size, cd_offset, eocd_at)]
    locator = f.read(eocd_at - ZIP64_LOCATOR.size, ZIP64_LOCATOR.size, "the zip64 locator") \
        if eocd_at >= ZIP64_LOCATOR.size else b""
    if locator[:4] == ZIP64_LOCATOR_SIG:
        end = eocd_at - ZIP64_LOCATOR.size - ZIP64_EOCD.size
        _, on_disk, by_offset, disks = ZIP64_LOCATOR.unpack(locator)
        if on_disk or disks > 1:  # zipfile raises, miniz refuses any count but 1
            problems.append(f"the zip64 locator describes a spanned archive ({disks} disks)")
        for who, z64_at in (("the zip64 record before the locator (zipfile)", end),
                            ("the zip64 record the locator points to (miniz)", by_offset)):
            record_ = _zip64_record(f, z64_at, end, problems)
            if record_ is not None:
                views.append((who, *record_, end))
    if not views:
        raise HeaderError(f.name, "zip64 fields but no zip64 end record a reader finds")
    return views


def _zip64_record(f: LocalFile, at: int, end: int, problems: list[str]) -> tuple[int, int, int] | None:
    """(member count, directory size, directory offset) of a zip64 end record at ``at`` (at most
    ``end``), or None where there is none; zipfile takes its total count and checks no disk number."""
    if not 0 <= at <= end:
        return None
    fields = ZIP64_EOCD.unpack(f.read(at, ZIP64_EOCD.size, "the zip64 end record"))
    sig, _, _, _, disk, cd_disk, here, entries, cd_size, cd_offset = fields
    if sig != ZIP64_EOCD_SIG:
        return None
    if disk or cd_disk or here != entries:
        problems.append(f"a zip64 end record describes a spanned archive (disk {disk}, directory on disk "
                        f"{cd_disk}, {here} of {entries} members here): zipfile reads it, miniz does not")
    return entries, cd_size, cd_offset


def _placed(f: LocalFile, view: tuple[int, int, int, int],
            problems: list[str]) -> tuple[int, int, int, int] | None:
    """(member count, directory size, directory offset, shift) of a directory an end record names
    (member count, size, offset, where it ends), or None when it cannot lie there. zipfile's
    _EndRecData: an archive appended to other data is read shifted by the bytes before it."""
    entries, cd_size, cd_offset, dir_end = view
    if cd_offset + cd_size > dir_end:
        problems.append("central directory unreadable: it overlaps the end record")
        return None
    shift = dir_end - cd_size - cd_offset
    if shift > 0 and f.read(cd_offset + shift, 4, "the central directory") == CENTRAL_SIG:
        problems.append(f"the archive starts {shift} bytes into the file, after other data "
                        "(zipfile reads it shifted)")
        return entries, cd_size, cd_offset, shift
    return entries, cd_size, cd_offset, 0


def _survey_directory(f: LocalFile, view: tuple[int, int, int, int] | None, max_members: int,
                      problems: list[str]) -> list[SurveyMember]:
    """The members one central directory lists, each located through its local header, and those a
    walk over the local headers before it finds besides (``view``: member count, size, offset, shift;
    None: no directory could be read)."""
    members: list[SurveyMember] = []
    cd_offset = f.size
    try:
        if view is None:
            raise HeaderError(f.name, "no central directory")
        entries, cd_size, cd_offset, shift = view
        cd_offset += shift
        raw = f.read(cd_offset, cd_size, "the central directory")
        central = _lenient_central(f.name, raw, entries, problems, max_members)
        central = [SurveyMember(m.name, m.method, m.data_offset + shift, m.compressed_size, m.size, m.crc,
                                m.view, m.encrypted) for m in central]
    except (FormatError, UnsupportedError) as e:
        if view is not None:
            problems.append(f"central directory unreadable: {_short(e, f.name)}")
        central, cd_offset = [], f.size
    names: set[str] = set()
    for m in central:
        if m.name in names:
            problems.append(f"two members named {m.name!r} (readers differ in which they take)")
        names.add(m.name)
        members.append(_lenient_locate(f, m, cd_offset, problems))
    located = zip(central, members, strict=True)  # the members so far are the central directory's
    _check_gaps(f, sorted((c.data_offset, m.data_offset + m.compressed_size) for c, m in located
                          if m.data_offset != c.data_offset), cd_offset, problems)
    starts = {m.data_offset for m in central}
    for local in _walk_locals(f, cd_offset, problems):
        if local[0] not in starts:
            member = local[1]
            problems.append(f"member {member.name!r} has a local header at offset {local[0]} that the "
                            "central directory does not list")
            members.append(member)
    ordered = sorted((m for m in members if m.view == "central directory"), key=lambda m: m.data_offset)
    for a, b in itertools.pairwise(ordered):
        if a.data_offset + a.compressed_size > b.data_offset:
            problems.append(f"members {a.name!r} and {b.name!r} overlap")
    return members


DESCRIPTOR_MAX = 24  # §4.3.9: a data descriptor (signature, CRC, two 8-byte sizes) after a member


def _check_gaps(f: LocalFile, spans: list[tuple[int, int]], end: int, problems: list[str]) -> None:
    """Every byte before the central directory must belong to a member it lists (local header, data,
    data descriptor): a streaming reader walking local headers finds a member hidden anywhere else
    (after a member whose sizes follow its data, where the walk here has to stop)."""
    pos = 0
    for start, stop in [*spans, (end, end)]:
        if start > pos:
            gap = f.read(pos, min(start - pos, DESCRIPTOR_MAX + 4), "bytes between members")
            if start - pos > DESCRIPTOR_MAX or LOCAL_SIG in gap:
                problems.append(f"{start - pos} bytes at offset {pos} belong to no member the central "
                                "directory lists (a streaming reader may find a member there)")
        pos = max(pos, stop)


def read_surveyed(f: LocalFile, m: SurveyMember, max_bytes: int, prefix: int | None = None) -> bytes:
    """A surveyed member's bytes (inflated with a bound); raises when they cannot be had. ``prefix``:
    of a stored member, only its first ``prefix`` bytes."""
    if prefix is not None and m.method == STORED and not m.encrypted and prefix < m.compressed_size:
        return f.read(m.data_offset, prefix, f"member {m.name}")
    if m.encrypted:
        raise UnsupportedError(f"{f.name}: member {m.name} is encrypted")
    if m.method not in READABLE_METHODS:
        raise UnsupportedError(f"{f.name}: member {m.name} uses compression method "
                               f"{METHOD_NAMES.get(m.method, m.method)}")
    if m.size > max_bytes or m.compressed_size > max_bytes:
        raise HeaderError(f.name, f"member {m.name} is larger than the scan reads", m.size,
                          f"at most {max_bytes}")
    raw = f.read(m.data_offset, m.compressed_size, f"member {m.name}")
    if m.method == STORED:
        return raw
    if m.method == DEFLATED:
        return _inflate(f.name, m.name, raw, m.size)
    return _unpack(f.name, m, raw)


MAX_LZMA_DICT = 320 << 20  # xz -9 uses 64 MiB; pickle_scan.LZMA_MEMLIMIT is the same bound


def _unpack(path: str, m: SurveyMember, raw: bytes) -> bytes:
    """A bzip2 or lzma member into at most its declared size, as zipfile reads it: bz2 as is; lzma
    (APPNOTE §5.8.8) after a 2-byte version, a 2-byte properties size and the LZMA1 properties."""
    import bz2
    import lzma

    d: bz2.BZ2Decompressor | lzma.LZMADecompressor
    try:
        if m.method == BZIP2:
            d = bz2.BZ2Decompressor()
        else:
            n = int.from_bytes(raw[2:4], "little")
            if len(raw) < 4 + n:
                raise ValueError("the lzma properties are cut")
            filt = lzma._decode_filter_properties(lzma.FILTER_LZMA1, raw[4:4 + n])  # type: ignore[attr-defined]
            # liblzma allocates the dictionary the properties ask for (up to 4 GiB) before it decodes a
            # byte, and a raw decoder takes no memlimit: a larger claim is refused, not allocated
            if filt.get("dict_size", 0) > MAX_LZMA_DICT:
                raise ValueError(f"its lzma properties ask for a {filt['dict_size']}-byte dictionary, more "
                                 f"than the scan allocates ({MAX_LZMA_DICT})")
            d = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[filt])
            raw = raw[4 + n:]
        out = d.decompress(raw, m.size + 1)
    except (OSError, lzma.LZMAError, EOFError, ValueError) as e:
        raise FormatError(path, f"member {m.name} does not inflate", str(e)) from None
    if len(out) != m.size:
        raise FormatError(path, f"member {m.name} inflates to other than its declared size", len(out), m.size)
    return out


def _short(e: Exception, path: str) -> str:
    text = str(e)
    return text[len(path) + 2:] if text.startswith(path + ": ") else text


def _lenient_central(path: str, raw: bytes, entries: int, problems: list[str],
                     max_members: int = MAX_MEMBERS) -> list[SurveyMember]:
    """Records while they fit in the directory, as zipfile reads them (it ignores the count), and
    whatever more the count claims, as a reader going by the count would try."""
    out: list[SurveyMember] = []
    pos = 0
    while len(out) < max_members and (pos < len(raw) or len(out) < entries):
        if pos + CENTRAL.size > len(raw):
            problems.append("central directory ends inside a record")
            break
        (sig, _, _, flags, method, _, _, crc, csize, usize, n_name, n_extra, n_comment, disk, _, _,
         local_at) = CENTRAL.unpack_from(raw, pos)
        if sig != CENTRAL_SIG:
            problems.append(f"bad central directory record at offset {pos}")
            break
        name_raw = raw[pos + CENTRAL.size:pos + CENTRAL.size + n_name]
        extra = raw[pos + CENTRAL.size + n_name:pos + CENTRAL.size + n_name + n_extra]
        pos += CENTRAL.size + n_name + n_extra + n_comment
        name = _lenient_name(name_raw, flags, problems)
        try:
            usize, csize, local_at = _zip64_extra(path, name, extra, usize, csize, local_at)
        except HeaderError as e:
            problems.append(_short(e, path))
        _member_problems(name, flags, method, problems)
        if disk:
            problems.append(f"member {name!r} lies on another disk of a spanned archive")
        out.append(SurveyMember(name, method, local_at, csize, usize, crc, "central directory",
                                bool(flags & FLAG_ENCRYPTED) or method == 99))
    if len(out) != entries:
        problems.append(f"the end record counts {entries} members, the central directory holds {len(out)}")
    return out


def _lenient_name(raw: bytes, flags: int, problems: list[str]) -> str:
    name = raw.decode("utf-8", "replace") if flags & FLAG_UTF8 else raw.decode("cp437")
    try:
        _member_name("", raw, flags)
    except HeaderError:
        problems.append(f"member name {name!r} escapes the archive")
    return name


def _member_problems(name: str, flags: int, method: int, problems: list[str]) -> None:
    if flags & FLAG_ENCRYPTED or method == 99:
        problems.append(f"member {name!r} is encrypted")
    elif method not in READABLE_METHODS:
        problems.append(f"member {name!r} uses compression method {METHOD_NAMES.get(method, method)}")


def _lenient_locate(f: LocalFile, m: SurveyMember, cd_offset: int, problems: list[str]) -> SurveyMember:
    """The central directory's member with its data offset past the local header; disagreements noted."""
    try:
        fields = LOCAL.unpack(f.read(m.data_offset, LOCAL.size, f"local header of {m.name}"))
    except FormatError:
        problems.append(f"member {m.name!r} points past the end of the file")
        return m
    sig, _, flags, method, _, _, crc, csize, usize, n_name, n_extra = fields
    if sig != LOCAL_SIG:
        problems.append(f"member {m.name!r} has no local header at offset {m.data_offset}")
        return m
    try:
        local_name = f.read(m.data_offset + LOCAL.size, n_name, "a local name")
    except FormatError:
        local_name = b""
    start = m.data_offset + LOCAL.size + n_name + n_extra
    descriptor = flags & 0x0008  # sizes and CRC follow the data (§4.4.4 bit 3): zeros here
    if (_lenient_name(local_name, flags, []) != m.name or method != m.method
            or (not descriptor and (csize, usize, crc) != (m.compressed_size, m.size, m.crc)
                and 0xFFFFFFFF not in (csize, usize))):
        problems.append(f"member {m.name!r}: its local header disagrees with the central directory")
    if m.method == STORED and m.compressed_size != m.size:
        problems.append(f"stored member {m.name!r} has different stored and real sizes")
    if start + m.compressed_size > cd_offset:
        problems.append(f"member {m.name!r} runs into the central directory")
    return SurveyMember(m.name, m.method, start, m.compressed_size, m.size, m.crc, m.view, m.encrypted)


def _walk_locals(f: LocalFile, end: int, problems: list[str]) -> list[tuple[int, SurveyMember]]:
    """Local headers one after another from the start, as a streaming reader finds them."""
    out: list[tuple[int, SurveyMember]] = []
    pos = 0
    while pos + LOCAL.size <= min(end, f.size) and len(out) < MAX_MEMBERS:
        fields = LOCAL.unpack(f.read(pos, LOCAL.size, "a local header"))
        sig, _, flags, method, _, _, crc, csize, usize, n_name, n_extra = fields
        if sig != LOCAL_SIG:
            break
        try:
            name_raw = f.read(pos + LOCAL.size, n_name, "a local name")
        except FormatError:
            break
        name = _lenient_name(name_raw, flags, [])
        start = pos + LOCAL.size + n_name + n_extra
        out.append((pos, SurveyMember(name, method, start, csize, usize, crc, f"local header at {pos}",
                                      bool(flags & FLAG_ENCRYPTED) or method == 99)))
        if flags & 0x0008 or 0xFFFFFFFF in (csize, usize):
            break  # the size is not in the header: a streaming reader would search; we stop here
        pos = start + csize
    if pos < end and len(out) > 0 and pos + 4 <= f.size and f.read(pos, 4) not in (LOCAL_SIG, CENTRAL_SIG,
                                                                                    ZIP64_EOCD_SIG):
        problems.append(f"bytes at offset {pos} between the members and the central directory are not "
                        "a zip record")
    return out
