"""Objective metrics for symbolic music and for transcriptions.

:func:`compute_metrics` is the one entry point used by the CLI, the report
and the GUI panel.  Its keys are stable snake_case names (listed in
:data:`METRICS`, with unit and direction); a metric that is not defined for
the input (no reference given, too few notes or beats) is ``nan``, never
missing, so tables always line up.

Each definition lives in the docstring of the function that computes it:
:mod:`.symbolic` (pitch classes, rhythm, durations, velocity, extras),
:mod:`.harmony` (chords and transitions), :mod:`.tempo` (beats, tempo
stability, rubato, groove), :mod:`.perplexity` and :mod:`.transcription`.
"""

from __future__ import annotations

from dataclasses import dataclass

from musestudio.metrics import harmony, symbolic, tempo
from musestudio.metrics.symbolic import NAN, Pieces, as_pieces


@dataclass(frozen=True, slots=True)
class MetricInfo:
    name: str
    label: str
    unit: str  # "%", "bits", "s", "s²", "" ...
    higher_is_better: bool | None  # None: closer to the reference/human is better
    needs_reference: bool = False
    definition: str = ""  # one line, for reports and tooltips; the full one is in the function's docstring


def _m(name: str, label: str, unit: str, definition: str, higher: bool | None = None, ref: bool = False) -> MetricInfo:
    return MetricInfo(name, label, unit, higher, ref, definition)


METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        _m("pitch_class_similarity", "Pitch-class similarity", "%",
           "100 x sum of min(p, q) over the 12 duration-weighted pitch-class shares of the music (p) and the reference (q)",
           True, True),
        _m("harmonic_consistency", "Harmonic consistency", "%",
           "overlap (100 x sum of min) of the key-independent chord-transition distributions (one chord per beat, "
           "template matching) of the music and the reference", True, True),
        _m("chord_transition_accuracy", "Chord transition accuracy", "%",
           "share of the music's chord transitions whose kind also occurs in the reference", True, True),
        _m("pitch_class_entropy", "Pitch-class entropy", "bits",
           "Shannon entropy of the duration-weighted pitch-class histogram (0 to 3.58)"),
        _m("rhythmic_entropy", "Rhythmic entropy", "bits",
           "Shannon entropy of inter-onset intervals between chord onsets (30 ms grouping) in 25 ms bins, 2 s and over in one bin"),
        _m("avg_note_duration", "Average note duration", "s", "mean written note length (pedal not applied)"),
        _m("note_duration_variance", "Note-duration variance", "s²", "population variance of written note lengths"),
        _m("tempo_stability", "Tempo stability", "%",
           "100 x (1 - coefficient of variation of the per-beat local tempo)"),
        _m("rubato_usage", "Rubato usage", "%",
           "share of beats whose local tempo is more than 10 % away from the median tempo"),
        _m("velocity_mean", "Velocity mean", "", "mean MIDI velocity"),
        _m("velocity_std", "Velocity std", "", "population standard deviation of MIDI velocity"),
        _m("polyphony", "Polyphony", "notes", "time-weighted mean number of sounding notes while any note sounds"),
        _m("scale_consistency", "Scale consistency", "%", "share of notes in the best-fitting major (or relative minor) scale"),
        _m("empty_beat_rate", "Empty-beat rate", "%", "share of beats in which no note starts"),
        _m("groove_consistency", "Groove consistency", "%",
           "100 x (1 - mean Hamming distance) between the 16th-step onset patterns of consecutive bars"),
        _m("note_density", "Note density", "notes/s", "notes per second from the first onset to the last note end"),
        _m("pitch_range", "Pitch range", "semitones", "highest minus lowest pitch"),
        _m("note_count", "Notes", "", "number of notes"),
    )
}  # fmt: skip
METRIC_NAMES = tuple(METRICS)


def compute_metrics(
    seq: Pieces,
    reference: Pieces | None = None,
    beats: object = None,
    *,
    reference_beats: object = None,
) -> dict[str, float]:
    """Every symbolic metric of ``seq`` (one piece, or a corpus pooled as one).

    ``reference`` (a piece or a corpus) enables the comparative metrics.
    ``beats`` gives known beat times (seconds; one array, or one per piece of
    a corpus); without them beats come from the tempo grid or are tracked
    from the onsets (see :mod:`musestudio.metrics.tempo`).
    """
    pieces = as_pieces(seq)
    beat_list = beats if not isinstance(seq, symbolic.NoteSequence) or beats is None else [beats]
    # Beat times are needed by four metrics; resolve them once.
    resolved = [b for _, b in tempo.beats_per_piece(pieces, beat_list)]
    out: dict[str, float] = {
        "pitch_class_similarity": NAN,
        "harmonic_consistency": NAN,
        "chord_transition_accuracy": NAN,
        "pitch_class_entropy": symbolic.pitch_class_entropy(pieces),
        "rhythmic_entropy": symbolic.rhythmic_entropy(pieces),
        "avg_note_duration": symbolic.avg_note_duration(pieces),
        "note_duration_variance": symbolic.note_duration_variance(pieces),
        "tempo_stability": tempo.tempo_stability(pieces, resolved),
        "rubato_usage": tempo.rubato_usage(pieces, resolved),
        "velocity_mean": symbolic.velocity_mean(pieces),
        "velocity_std": symbolic.velocity_std(pieces),
        "polyphony": symbolic.polyphony(pieces),
        "scale_consistency": symbolic.scale_consistency(pieces),
        "empty_beat_rate": tempo.empty_beat_rate(pieces, resolved),
        "groove_consistency": tempo.groove_consistency(pieces, resolved),
        "note_density": symbolic.note_density(pieces),
        "pitch_range": symbolic.pitch_range(pieces),
        "note_count": float(symbolic.note_count(pieces)),
    }
    if reference is not None:
        refs = as_pieces(reference)
        ref_beats = reference_beats
        if isinstance(reference, symbolic.NoteSequence) and reference_beats is not None:
            ref_beats = [reference_beats]
        ref_resolved = [b for _, b in tempo.beats_per_piece(refs, ref_beats)]
        ours = harmony.transition_counts(pieces, resolved)
        theirs = harmony.transition_counts(refs, ref_resolved)
        out["pitch_class_similarity"] = symbolic.pitch_class_similarity(pieces, refs)
        out["harmonic_consistency"] = symbolic.histogram_overlap(ours, theirs)
        out["chord_transition_accuracy"] = harmony.transition_accuracy(ours, theirs)
    return out


__all__ = ["METRICS", "METRIC_NAMES", "MetricInfo", "compute_metrics"]
