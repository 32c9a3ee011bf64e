"""A lean, tolerant Standard MIDI File reader.

Why hand-written: symusic 0.6 merges a note-off followed by a note-on of the
same key at the same tick into one long note (notes are lost), and mido,
which parses correctly, builds a Python object per message and takes over a
second on a long piano performance.  This reader extracts only what
musestudio uses (notes, pedal and other controllers, programs, tempo, meter,
key, track names) as plain tuples, which is several times faster than mido,
and it is forgiving in the way users need: a truncated track keeps the
events read so far, notes whose note-off never comes are closed at the end
of their track, and running status is honoured.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class SMFError(ValueError):
    """The bytes are not a readable Standard MIDI File."""


class _Corrupt(Exception):
    """A track's bytes stop making sense (read like a truncation: what came before is kept)."""


class TooManyNotes(SMFError):
    """More notes than the caller's ``max_notes`` (raised early, before they are all held in memory)."""


@dataclass
class RawTrack:
    name: str = ""
    channel: int = -1  # the channel this track was split on (-1: none)
    program: int = 0
    # (start_tick, end_tick, pitch, velocity)
    notes: list[tuple[int, int, int, int]] = field(default_factory=list)
    # (tick, controller, value)
    controls: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def is_drum(self) -> bool:
        return self.channel == 9


@dataclass
class RawMidi:
    fmt: int
    ppq: int
    tracks: list[RawTrack]
    tempos: list[tuple[int, int]]  # (tick, microseconds per quarter)
    time_signatures: list[tuple[int, int, int]]  # (tick, numerator, denominator)
    key_signatures: list[tuple[int, int, int]]  # (tick, sharps, minor)
    truncated: bool = False


def parse_smf(data: bytes, max_notes: int | None = None) -> RawMidi:
    """Parse ``data``; with ``max_notes``, stop and refuse as soon as more notes than that start
    (so a file of ten million notes costs a fraction of a second, not a minute and gigabytes)."""
    if data[:4] != b"MThd":
        raise SMFError("not a MIDI file (no 'MThd' header)")
    if len(data) < 14:
        raise SMFError("corrupt MIDI file (header is truncated)")
    hlen = int.from_bytes(data[4:8], "big")
    if hlen < 6:
        raise SMFError("invalid MIDI header length")
    fmt = int.from_bytes(data[8:10], "big")
    ntracks = int.from_bytes(data[10:12], "big")
    division = int.from_bytes(data[12:14], "big")
    if division & 0x8000:
        raise SMFError("SMPTE-timed MIDI files are not supported; re-save it with ticks per quarter note")
    if division == 0:
        raise SMFError("MIDI header has a division of 0 ticks per quarter note")
    if fmt not in (0, 1, 2):
        raise SMFError(f"unknown MIDI format {fmt}")
    pos = 8 + hlen
    tempos: list[tuple[int, int]] = []
    time_sigs: list[tuple[int, int, int]] = []
    key_sigs: list[tuple[int, int, int]] = []
    tracks: list[RawTrack] = []
    truncated = False
    found = 0
    while pos + 8 <= len(data) and found < max(ntracks, 1) * 4:
        cid = data[pos : pos + 4]
        clen = int.from_bytes(data[pos + 4 : pos + 8], "big")
        body_start = pos + 8
        body_end = body_start + clen
        if body_end > len(data):
            truncated = True
            body_end = len(data)
        pos = body_end
        if cid != b"MTrk":
            continue  # unknown chunks are skipped, as the standard asks
        found += 1
        budget = -1 if max_notes is None else max_notes - sum(len(t.notes) for t in tracks)
        ok = _parse_track(data, body_start, body_end, tracks, tempos, time_sigs, key_sigs, budget)
        truncated = truncated or not ok
    if found == 0:
        raise SMFError("MIDI file has no track data (truncated?)")
    return RawMidi(fmt, division, tracks, tempos, time_sigs, key_sigs, truncated)


def _parse_track(
    data: bytes,
    pos: int,
    end: int,
    tracks: list[RawTrack],
    tempos: list[tuple[int, int]],
    time_sigs: list[tuple[int, int, int]],
    key_sigs: list[tuple[int, int, int]],
    budget: int = -1,
) -> bool:
    """Parse one MTrk body; append one RawTrack per channel used.  False if cut short.

    ``budget`` is how many more notes may start (-1: no limit); one more raises SMFError.
    """
    limited = budget >= 0
    tick = 0
    status = 0
    name = ""
    by_channel: dict[int, RawTrack] = {}
    # Open notes keyed by channel * 128 + pitch (an int key is cheaper than a tuple).
    open_notes: dict[int, list[tuple[int, int]]] = {}
    notes_by_channel: dict[int, list[tuple[int, int, int, int]]] = {}
    complete = False
    try:
        while pos < end:
            # delta time (variable-length quantity)
            delta = 0
            first = pos
            while True:
                b = data[pos]
                pos += 1
                delta = (delta << 7) | (b & 0x7F)
                if not b & 0x80:
                    break
                if pos - first >= 4:  # the standard allows 4 bytes; more is corruption, and an unbounded
                    raise _Corrupt  # delta overflows the int64 tick arrays downstream (found by tests/robustness fuzzing)
            tick += delta
            b = data[pos]
            if b & 0x80:
                pos += 1
                if b == 0xFF:
                    mtype = data[pos]
                    pos += 1
                    mlen = 0
                    while True:
                        c = data[pos]
                        pos += 1
                        mlen = (mlen << 7) | (c & 0x7F)
                        if not c & 0x80:
                            break
                    payload = data[pos : pos + mlen]
                    pos += mlen
                    if mtype == 0x2F:
                        complete = True
                        break
                    if mtype == 0x51 and len(payload) == 3:
                        tempos.append((tick, int.from_bytes(payload, "big")))
                    elif mtype == 0x58 and len(payload) >= 2:
                        time_sigs.append((tick, payload[0], 1 << min(payload[1], 6)))
                    elif mtype == 0x59 and len(payload) == 2:
                        sharps = payload[0] - 256 if payload[0] > 127 else payload[0]
                        key_sigs.append((tick, sharps, payload[1]))
                    elif mtype == 0x03 and not name:
                        name = payload.decode("latin-1", errors="replace").strip()
                    continue
                if b in (0xF0, 0xF7):
                    slen = 0
                    while True:
                        c = data[pos]
                        pos += 1
                        slen = (slen << 7) | (c & 0x7F)
                        if not c & 0x80:
                            break
                    pos += slen
                    continue
                if b >= 0xF0:
                    continue  # system real-time/common bytes have no place in a file; skip
                status = b
            elif status == 0:
                # Data byte with no running status to apply: skip it.
                pos += 1
                continue
            kind = status & 0xF0
            n = 1 if kind in (0xC0, 0xD0) else 2
            if pos + n > end:
                break
            d1 = data[pos] & 0x7F
            if kind == 0x90 or kind == 0x80:  # noqa: PLR1714  (hot loop: two compares beat a set lookup)
                d2 = data[pos + 1] & 0x7F
                pos += 2
                key = ((status & 0x0F) << 7) | d1
                if kind == 0x90 and d2:
                    if limited:
                        budget -= 1
                        if budget < 0:
                            raise TooManyNotes("has too many notes")
                    stack = open_notes.get(key)
                    if stack is None:
                        open_notes[key] = [(tick, d2)]
                    else:
                        stack.append((tick, d2))
                else:
                    stack = open_notes.get(key)
                    if stack:
                        # First in, first out: the oldest sounding note of this key ends.
                        start, vel = stack.pop(0)
                        notes_by_channel.setdefault(status & 0x0F, []).append((start, tick, d1, vel))
                continue
            pos += n
            ch = status & 0x0F
            if kind == 0xB0:
                _track(by_channel, ch).controls.append((tick, d1, data[pos - 1] & 0x7F))
            elif kind == 0xC0:
                t = _track(by_channel, ch)
                if ch not in notes_by_channel:
                    t.program = d1
    except (IndexError, _Corrupt):
        complete = False  # ran off the end of the data mid-event, or hit a malformed delta time
    # Notes whose note-off never came end where the track ends.
    for key, stack in open_notes.items():
        for start, vel in stack:
            notes_by_channel.setdefault(key >> 7, []).append((start, max(tick, start), key & 0x7F, vel))
    for ch, ns in notes_by_channel.items():
        _track(by_channel, ch).notes = ns
    if not by_channel and name:
        tracks.append(RawTrack(name=name))
    for ch in sorted(by_channel):
        t = by_channel[ch]
        t.name = name
        t.notes.sort()
        tracks.append(t)
    return complete or pos >= end


def _track(by_channel: dict[int, RawTrack], ch: int) -> RawTrack:
    t = by_channel.get(ch)
    if t is None:
        t = by_channel[ch] = RawTrack(channel=ch)
    return t
