"""Build the hostile-input corpus: files a user might really try to open, and worse.

Every file is generated from code (byte by byte, with ``struct``), so the
corpus is reproducible and nothing binary is committed.  Run it by hand to
look at the files::

    .venv/bin/python tests/robustness/make_corpus.py /tmp/corpus

Each entry records what a *sensible* outcome is: ``"error"`` (must be refused
with a one-line message), ``"ok"`` (must open), or ``"either"`` (a clean error
and a sensible result are both acceptable, e.g. a degenerate but legal file).
"""

from __future__ import annotations

import io
import math
import os
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# --- MIDI building blocks ---------------------------------------------------


def vlq(value: int) -> bytes:
    """MIDI variable-length quantity (hand-written: the point is to forge invalid files)."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def header(fmt: int = 0, ntracks: int = 1, division: int = 480) -> bytes:
    return b"MThd" + struct.pack(">IHHH", 6, fmt, ntracks, division & 0xFFFF)


def track(events: bytes, *, end: bool = True, length: int | None = None) -> bytes:
    body = events + (b"\x00\xff\x2f\x00" if end else b"")
    return b"MTrk" + struct.pack(">I", len(body) if length is None else length) + body


def tempo_event(us_per_quarter: int, delta: int = 0) -> bytes:
    return vlq(delta) + b"\xff\x51\x03" + us_per_quarter.to_bytes(3, "big")


def note_pair(pitch: int, length: int, velocity: int = 80, gap: int = 0) -> bytes:
    return vlq(gap) + bytes([0x90, pitch, velocity]) + vlq(length) + bytes([0x80, pitch, 0])


def scale_events(n: int = 8, length: int = 240) -> bytes:
    return b"".join(note_pair(60 + (i % 12), length) for i in range(n))


def simple_midi(events: bytes | None = None, division: int = 480) -> bytes:
    return header(0, 1, division) + track(events if events is not None else tempo_event(500_000) + scale_events())


def many_notes_midi(count: int) -> bytes:
    """``count`` short notes, with running status so the file stays small (3 bytes per event)."""
    import numpy as np

    pitches = (np.arange(count) % 48 + 36).astype(np.uint8)
    ev = np.empty((count, 6), dtype=np.uint8)
    ev[:, 0] = 0  # delta 0: note-on right after the previous note-off
    ev[:, 1] = pitches
    ev[:, 2] = 64
    ev[:, 3] = 10  # delta 10 ticks
    ev[:, 4] = pitches
    ev[:, 5] = 0  # velocity 0 = note-off, keeps running status 0x90
    body = b"\x00\x90" + ev.tobytes()[1:]  # first event carries the status byte
    return header(0, 1, 480) + track(body)


# --- audio building blocks --------------------------------------------------


def wav_bytes(
    samples: bytes,
    *,
    channels: int = 1,
    sample_rate: int = 44100,
    bits: int = 16,
    fmt_tag: int = 1,
    data_size: int | None = None,
) -> bytes:
    """A RIFF/WAVE file around raw sample bytes; ``data_size`` may lie about the body."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, sample_rate, sample_rate * block, block, bits)
    size = len(samples) if data_size is None else data_size
    riff_size = min(4 + 8 + len(fmt) + 8 + size, 0xFFFFFFFF)
    return (
        b"RIFF" + struct.pack("<I", riff_size) + b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
        + b"data" + struct.pack("<I", min(size, 0xFFFFFFFF)) + samples
    )


def tone_pcm16(seconds: float, sample_rate: int, channels: int = 1, freq: float = 440.0) -> bytes:
    import numpy as np

    t = np.arange(int(seconds * sample_rate)) / sample_rate
    x = (0.3 * np.sin(2 * math.pi * freq * t) * 32767).astype("<i2")
    return np.repeat(x[:, None], channels, axis=1).tobytes()


def float_samples(values: list[float]) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


def sparse_wav(path: Path, seconds: float, sample_rate: int = 8000) -> None:
    """A WAV whose body really is ``seconds`` long but costs no disk: a sparse file of silence."""
    nbytes = int(seconds * sample_rate) * 2
    head = wav_bytes(b"", sample_rate=sample_rate, data_size=nbytes)
    with open(path, "wb") as fh:
        fh.write(head)
        fh.truncate(len(head) + nbytes)


# --- MusicXML building blocks -----------------------------------------------

MINIMAL_MUSICXML = """<?xml version="1.0" encoding="UTF-8"?>
<score-partwise version="3.1">
  <part-list><score-part id="P1"><part-name>Piano</part-name></score-part></part-list>
  <part id="P1">
    <measure number="1">
      <attributes><divisions>1</divisions><time><beats>4</beats><beat-type>4</beat-type></time></attributes>
      <note><pitch><step>C</step><octave>4</octave></pitch><duration>4</duration></note>
    </measure>
  </part>
</score-partwise>
"""

CONTAINER_XML = """<?xml version="1.0" encoding="UTF-8"?>
<container><rootfiles><rootfile full-path="{name}"/></rootfiles></container>
"""


def mxl_bytes(members: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def zip_bomb_mxl(uncompressed_mb: int = 80) -> bytes:
    """An .mxl whose score member inflates to ``uncompressed_mb`` MB of zeros (~1000:1)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b"\0" * (1 << 20)
    raw = b"".join(comp.compress(chunk) for _ in range(uncompressed_mb)) + comp.flush()
    crc = 0
    for _ in range(uncompressed_mb):
        crc = zlib.crc32(chunk, crc)
    size = uncompressed_mb << 20
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("META-INF/container.xml", CONTAINER_XML.format(name="score.xml"))
    # Append the bomb member by hand: zipfile would need the whole 256 MB in memory.
    data = bytearray(buf.getvalue())
    cd_offset = data.rfind(b"PK\x01\x02")
    eocd = data.rfind(b"PK\x05\x06")
    central = bytes(data[cd_offset:eocd])
    local_at = cd_offset
    name = b"score.xml"
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(raw), size, len(name), 0) + name
    central += struct.pack(
        "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(raw), size, len(name), 0, 0, 0, 0, 0, local_at
    ) + name
    body = bytes(data[:cd_offset]) + local + raw
    eocd_rec = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 2, 2, len(central), len(body), 0)
    return body + central + eocd_rec


# --- the corpus -------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    name: str  # file name inside the corpus folder (str, or bytes for non-UTF-8 names)
    kind: str  # midi | musicxml | audio | text
    expect: str  # error | ok | either
    build: Callable[[Path], None]
    note: str = ""

    @property
    def id(self) -> str:
        return self.name if isinstance(self.name, str) else os.fsdecode(self.name).encode("ascii", "replace").decode()


def _write(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def _truncated_midi() -> bytes:
    data = simple_midi(tempo_event(500_000) + scale_events(32))
    return data[: len(data) // 2]


def _running_status_abuse() -> bytes:
    # Data bytes with no status at all, then running status across a meta event
    # (which cancels it per the spec) and across a SysEx.
    events = (
        b"\x00\x3c\x40"  # data before any status byte
        + b"\x00\x90\x3c\x40"
        + b"\x00\xff\x01\x01a"  # meta: text
        + b"\x60\x3c\x00"  # running status after meta (illegal)
        + b"\x00\xf0\x02\x7e\xf7"  # sysex
        + b"\x10\x3e\x40\x10\x3e\x00"  # running status after sysex (illegal)
    )
    return simple_midi(events)


def _zero_tick_notes() -> bytes:
    events = b"".join(vlq(0) + bytes([0x90, p, 90]) + vlq(0) + bytes([0x80, p, 0]) for p in range(60, 72))
    return simple_midi(tempo_event(500_000) + events + note_pair(72, 480))


def _hanging_notes() -> bytes:
    events = b"".join(vlq(120) + bytes([0x90, p, 90]) for p in range(48, 84))
    return simple_midi(tempo_event(500_000) + events)


def _far_future_note() -> bytes:
    # ppq 1 and the slowest tempo put a note about 140 years in the future.
    return simple_midi(tempo_event(0xFFFFFF) + note_pair(60, 1) + note_pair(62, 1, gap=0x0FFFFFFF), division=1)


def _many_tracks() -> bytes:
    tracks = b"".join(track(note_pair(40 + i % 40, 10)) for i in range(2000))
    return header(1, 2000, 480) + tracks


def _bad_track_length() -> bytes:
    return header(0, 1, 480) + track(tempo_event(500_000) + scale_events(), length=0x7FFFFFFF)


def _bad_data_bytes() -> bytes:
    # Pitch and velocity bytes above 127.
    return simple_midi(b"\x00\x90\xff\xff\x10\x80\xff\x00" + note_pair(60, 100))


def _wrong_track_count() -> bytes:
    return header(1, 50, 480) + track(tempo_event(500_000) + scale_events())


def _mxl_truncated() -> bytes:
    data = mxl_bytes({"META-INF/container.xml": CONTAINER_XML.format(name="score.xml"), "score.xml": MINIMAL_MUSICXML})
    return data[: len(data) * 2 // 3]


def _mxl_bad_crc() -> bytes:
    data = bytearray(
        mxl_bytes({"META-INF/container.xml": CONTAINER_XML.format(name="score.xml"), "score.xml": MINIMAL_MUSICXML * 4})
    )
    # Flip bytes in the middle of the compressed score member.
    start = data.find(b"score.xml") + 20
    for i in range(start, start + 16):
        data[i] ^= 0x5A
    return bytes(data)


def _billion_laughs() -> bytes:
    ents = "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    return (
        f'<?xml version="1.0"?><!DOCTYPE score-partwise [<!ENTITY l0 "ha">{ents}]>'
        "<score-partwise><part-list/><work><work-title>&l9;</work-title></work></score-partwise>"
    ).encode()


def _external_entity() -> bytes:
    return (
        b'<?xml version="1.0"?><!DOCTYPE score-partwise [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"<score-partwise><work><work-title>&xxe;</work-title></work><part-list/></score-partwise>"
    )


def project_json(layers_notes: dict | None = None, **top: object) -> bytes:
    """A musestudio project (.msproj) with one layer whose note columns are ``layers_notes``."""
    import json

    notes = layers_notes or {"pitch": [60, 64], "start": [0.0, 0.5], "end": [0.4, 0.9], "velocity": [80, 80], "track": [0, 0]}
    doc = {
        "format": "musestudio-project",
        "version": 1,
        "audio_path": None,
        "view": {},
        "layers": [{"id": "a1", "name": "Seed", "kind": "score", "sequence": {"notes": notes, "tempo": {"ppq": 480, "changes": [[0, 500000]]}}}],
    }
    doc.update(top)
    return json.dumps(doc).encode()  # NaN is written as the bare NaN token, as Python's json does


LONG_NAME = "long_" + "n" * 240 + ".mid"  # 249 bytes: near the 255-byte limit of common file systems
NON_UTF8_NAME = b"caf\xe9_latin1_\xff.mid"  # not decodable as UTF-8

CORPUS: list[Entry] = [
    # MIDI
    Entry("valid.mid", "midi", "ok", _write(simple_midi())),
    Entry("empty.mid", "midi", "error", _write(b"")),
    Entry("truncated_mid_track.mid", "midi", "either", _write(_truncated_midi())),
    Entry("wrong_header.mid", "midi", "error", _write(b"MThx" + simple_midi()[4:])),
    Entry("header_only.mid", "midi", "either", _write(header(0, 0, 480))),
    Entry("header_cut.mid", "midi", "error", _write(b"MThd\x00\x00")),
    Entry("running_status_abuse.mid", "midi", "either", _write(_running_status_abuse())),
    Entry("zero_tick_notes.mid", "midi", "either", _write(_zero_tick_notes())),
    Entry("note_offs_never_come.mid", "midi", "either", _write(_hanging_notes())),
    Entry("notes_100k.mid", "midi", "ok", _write(many_notes_midi(100_000))),
    Entry("tempo_zero.mid", "midi", "either", _write(simple_midi(tempo_event(0) + scale_events()))),
    Entry("tempo_1us.mid", "midi", "either", _write(simple_midi(tempo_event(1) + scale_events()))),
    Entry("tempo_slowest.mid", "midi", "either", _write(simple_midi(tempo_event(0xFFFFFF) + scale_events()))),
    Entry(
        "tempo_storm.mid",
        "midi",
        "either",
        _write(simple_midi(b"".join(tempo_event(1 + (i * 7919) % 0xFFFFFF, 1) for i in range(5000)) + scale_events())),
    ),
    Entry("smpte_timing.mid", "midi", "error", _write(simple_midi(division=0xE728))),
    Entry("ppq_zero.mid", "midi", "either", _write(simple_midi(division=0))),
    Entry("far_future_note.mid", "midi", "either", _write(_far_future_note())),
    Entry("tracks_2000.mid", "midi", "either", _write(_many_tracks())),
    Entry("track_length_lies.mid", "midi", "either", _write(_bad_track_length())),
    Entry("track_count_lies.mid", "midi", "either", _write(_wrong_track_count())),
    Entry("data_bytes_over_127.mid", "midi", "either", _write(_bad_data_bytes())),
    Entry("random_after_header.mid", "midi", "either", _write(header(1, 3, 96) + bytes(range(256)) * 8)),
    Entry("text_renamed.mid", "text", "error", _write(b"This is not a MIDI file.\nJust some notes I wrote.\n")),
    Entry(LONG_NAME, "midi", "ok", _write(simple_midi())),
    Entry(NON_UTF8_NAME, "midi", "ok", _write(simple_midi())),  # type: ignore[arg-type]
    Entry("spaces and ünïcödé – 音楽.mid", "midi", "ok", _write(simple_midi())),
    # MusicXML
    Entry("valid.musicxml", "musicxml", "ok", _write(MINIMAL_MUSICXML.encode())),
    Entry("not_xml.musicxml", "musicxml", "error", _write(b"Title: my song\nC D E F G\n")),
    Entry("empty.musicxml", "musicxml", "error", _write(b"")),
    Entry("unclosed_tags.musicxml", "musicxml", "error", _write(MINIMAL_MUSICXML.encode()[:-40])),
    Entry("html_renamed.xml", "musicxml", "error", _write(b"<html><body><p>404 Not Found</p></body></html>")),
    Entry("billion_laughs.musicxml", "musicxml", "error", _write(_billion_laughs())),
    Entry("external_entity.musicxml", "musicxml", "either", _write(_external_entity())),
    Entry("binary_junk.xml", "musicxml", "error", _write(b"<" + bytes(range(256)) * 4)),
    Entry("not_a_zip.mxl", "musicxml", "error", _write(b"PK but not really a zip archive")),
    Entry("truncated_zip.mxl", "musicxml", "error", _write(_mxl_truncated())),
    Entry("bad_crc.mxl", "musicxml", "error", _write(_mxl_bad_crc())),
    Entry("empty_zip.mxl", "musicxml", "error", _write(mxl_bytes({}))),
    Entry(
        "container_points_nowhere.mxl",
        "musicxml",
        "error",
        _write(mxl_bytes({"META-INF/container.xml": CONTAINER_XML.format(name="missing.xml")})),
    ),
    Entry("zip_bomb.mxl", "musicxml", "error", lambda p: p.write_bytes(zip_bomb_mxl())),
    # Audio
    Entry("valid.wav", "audio", "ok", _write(wav_bytes(tone_pcm16(1.0, 22050), sample_rate=22050))),
    Entry("empty.wav", "audio", "error", _write(b"")),
    Entry("one_sample.wav", "audio", "either", _write(wav_bytes(b"\x10\x00"))),
    Entry("header_no_samples.wav", "audio", "either", _write(wav_bytes(b""))),
    Entry("rate_8k.wav", "audio", "ok", _write(wav_bytes(tone_pcm16(1.0, 8000), sample_rate=8000))),
    Entry("rate_192k.wav", "audio", "ok", _write(wav_bytes(tone_pcm16(0.5, 192000), sample_rate=192000))),
    Entry("six_channels.wav", "audio", "ok", _write(wav_bytes(tone_pcm16(0.5, 22050, 6), channels=6, sample_rate=22050))),
    Entry(
        "nan_inf.wav",
        "audio",
        "either",
        _write(
            wav_bytes(
                float_samples([0.0, math.nan, math.inf, -math.inf, 0.5] * 4000), bits=32, fmt_tag=3, sample_rate=22050
            )
        ),
    ),
    Entry(
        "two_hour_header_tiny_body.wav",
        "audio",
        "either",
        _write(wav_bytes(tone_pcm16(0.1, 44100), sample_rate=44100, data_size=2 * 3600 * 44100 * 2)),
    ),
    Entry("rate_zero.wav", "audio", "error", _write(wav_bytes(tone_pcm16(0.1, 8000), sample_rate=0))),
    Entry("text_renamed.wav", "text", "error", _write(b"RIFF? no. This is a shopping list.\n")),
    Entry("garbage.flac", "audio", "error", _write(b"fLaC" + bytes(range(256)) * 4)),
    Entry("empty.mp3", "audio", "error", _write(b"")),
    # musestudio projects
    Entry("valid.msproj", "project", "ok", _write(project_json())),
    Entry("empty.msproj", "project", "error", _write(b"")),
    Entry("not_json.msproj", "project", "error", _write(b"MThd this is a MIDI file, honest")),
    Entry("json_array.msproj", "project", "error", _write(b"[1, 2, 3]")),
    Entry("other_format.msproj", "project", "error", _write(b'{"format": "someone-elses", "layers": []}')),
    Entry("newer_version.msproj", "project", "error", _write(project_json(version=99))),
    Entry("deep_nesting.msproj", "project", "error", _write(b"[" * 200_000 + b"]" * 200_000)),
    Entry(
        "bad_note_values.msproj",
        "project",
        "either",
        _write(
            project_json(
                {
                    "pitch": [999, -5, 60, 61],
                    "start": [0.0, 1.0, float("nan"), 2.0],
                    "end": [1.0, 0.5, 1.0, float("inf")],
                    "velocity": [300, -1, 80, 80],
                    "track": [0, 12345, 0, -1],
                }
            )
        ),
    ),
    Entry(
        "ragged_columns.msproj",
        "project",
        "error",
        _write(project_json({"pitch": [60, 62], "start": [0.0], "end": [1.0], "velocity": [80], "track": [0]})),
    ),
    Entry("zero_ppq.msproj", "project", "either", _write(project_json().replace(b'"ppq": 480', b'"ppq": 0'))),
    Entry("missing_audio.msproj", "project", "either", _write(project_json(audio_path="/nonexistent/take.wav"))),
]


def build_corpus(folder: str | os.PathLike[str]) -> dict[str, Path]:
    """Write every corpus file into ``folder``; returns entry id -> path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for entry in CORPUS:
        name = os.fsdecode(entry.name) if isinstance(entry.name, bytes) else entry.name
        path = folder / name
        entry.build(path)
        paths[entry.id] = path
    return paths


def entry_by_id(entry_id: str) -> Entry:
    return next(e for e in CORPUS if e.id == entry_id)


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "corpus")
    built = build_corpus(out)
    for eid, path in built.items():
        print(f"{path.stat().st_size:>12,d}  {eid}")
    print(f"{len(built)} files in {out}")
