"""Names and labels shared by the report's protocol, statistics, tables and plots.

Their own module so that the plots and the tables, which both label rows,
never import each other (that was a cycle: report.py <-> plots.py).
"""

from __future__ import annotations

HUMAN = "human"
DEFAULT_MODELS = ("lstm", "transformer", "gan", "markov")
BASELINE = "seed_repeat"
ROW_LABELS = {
    "lstm": "LSTM",
    "transformer": "Transformer",
    "gan": "GAN",
    "markov": "Markov",
    BASELINE: "Seed repeated (baseline)",
    HUMAN: "Human",
}

#: The reference paper's published numbers (Zhang 2025, Tables 2, 3 and 5).
PAPER: dict[str, dict[str, dict[str, float]]] = {
    "table2": {
        "LSTM": {"perplexity": 3.21, "pitch_class_similarity": 82.3, "harmonic_consistency": 74.8, "rhythmic_entropy": 4.12},
        "Transformer": {"perplexity": 2.87, "pitch_class_similarity": 85.6, "harmonic_consistency": 79.4, "rhythmic_entropy": 4.35},
        "GAN": {"perplexity": 3.02, "pitch_class_similarity": 88.1, "harmonic_consistency": 76.5, "rhythmic_entropy": 4.18},
    },
    "table3": {
        "LSTM": {"avg_note_duration": 0.62, "tempo_stability": 88.5, "velocity_std": 14.2, "rubato_usage": 12.1},
        "Transformer": {"avg_note_duration": 0.74, "tempo_stability": 91.2, "velocity_std": 18.5, "rubato_usage": 19.8},
        "GAN": {"avg_note_duration": 0.69, "tempo_stability": 92.4, "velocity_std": 16.8, "rubato_usage": 14.7},
    },
    "table5": {
        "LSTM": {"pitch_class_similarity": 82.3, "chord_transition_accuracy": 74.8, "rhythmic_entropy": 4.12, "note_duration_variance": 0.15},
        "Transformer": {"pitch_class_similarity": 87.6, "chord_transition_accuracy": 80.4, "rhythmic_entropy": 4.38, "note_duration_variance": 0.27},
        "GAN": {"pitch_class_similarity": 88.1, "chord_transition_accuracy": 77.3, "rhythmic_entropy": 4.18, "note_duration_variance": 0.23},
        "Human": {"pitch_class_similarity": 100.0, "chord_transition_accuracy": 100.0, "rhythmic_entropy": 4.55, "note_duration_variance": 0.32},
    },
}  # fmt: skip
TABLE_COLUMNS = {
    "table2": ("perplexity", "plausibility", "pitch_class_similarity", "harmonic_consistency", "rhythmic_entropy"),
    "table3": ("avg_note_duration", "tempo_stability", "velocity_std", "rubato_usage"),
    "table5": ("pitch_class_similarity", "chord_transition_accuracy", "rhythmic_entropy", "note_duration_variance"),
}
TABLE_TITLES = {
    "table2": "Table 2: prediction, pitch and harmony",
    "table3": "Table 3: expressive timing and dynamics",
    "table5": "Table 5: structure, with a Human row",
}
EXTRA_LABELS = {
    "perplexity": ("Perplexity (own model, human continuations)", ""),
    "plausibility": ("Plausibility (Transformer perplexity of the output)", ""),
}

PLOT_CAPTIONS = {
    "pitch_class_histograms": "Pitch-class histograms (duration-weighted), relative to the tonic of each seed's estimated key",
    "duration_histograms": "Note durations",
    "ioi_histograms": "Inter-onset intervals between chord onsets",
    "velocity_distributions": "Velocity distributions",
}
