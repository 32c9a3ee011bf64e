import pytest

from musestudio.core.errors import MusestudioError
from musestudio.core.keys import Key, estimate_key, parse_key, pitch_class_histogram
from musestudio.core.notes import Note


@pytest.mark.parametrize(
    ("text", "tonic", "mode"),
    [("D minor", 2, "minor"), ("Bb major", 10, "major"), ("f# dorian", 6, "dorian"), ("C", 0, "major"), ("Ebm", 3, "minor")],
)
def test_parse_key(text, tonic, mode):
    assert parse_key(text) == Key(tonic, mode)


def test_parse_key_rejects_nonsense():
    with pytest.raises(MusestudioError):
        parse_key("H sharp")


def test_scale_membership():
    assert sorted(parse_key("C major").pitch_classes()) == [0, 2, 4, 5, 7, 9, 11]
    assert all(p % 12 in {2, 4, 5, 7, 9, 10, 0} for p in parse_key("D minor").allowed_pitches(60, 72))


def test_estimate_key_of_a_scale():
    g_major = [Note(p, i * 0.5, i * 0.5 + 0.5) for i, p in enumerate([67, 69, 71, 72, 74, 76, 78, 79, 67, 71, 74])]
    assert estimate_key(g_major) == Key(7, "major")
    assert estimate_key([]) is None


def test_histogram_is_duration_weighted():
    h = pitch_class_histogram([Note(60, 0, 3), Note(62, 0, 1)])
    assert h[0] == pytest.approx(0.75) and h[2] == pytest.approx(0.25)
