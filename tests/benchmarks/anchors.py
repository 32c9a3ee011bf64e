"""Other transcribers, each in its own virtual environment, run over the same clips as ours: anchors for the
model card, never runtime dependencies (musestudio imports none of them).

* Basic Pitch 0.4.0: ``python3 -m venv /tmp/bp-venv && /tmp/bp-venv/bin/pip install basic-pitch==0.4.0``
* Transkun 2.0 (its pip wheel ships its weights): ``python3 -m venv /tmp/tk-venv &&
  /tmp/tk-venv/bin/pip install torch==2.13.0 transkun "setuptools<81"`` (its loader imports pkg_resources)

Each system runs in one child process that loads its model once and writes one MIDI file per clip; the
clips' wall and CPU seconds come back as JSON.  All are scored by :func:`scores_of`, the code that scores ours.
Transkun needs one fix to its venv: pip's newest torchaudio (2.11) was built for another torch, and Transkun
uses it only for a mel filter bank (pure Python), so move ``torchaudio/lib/*.so`` out of the venv's
site-packages; torchaudio then imports without its C extension.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

BP_SCRIPT = r"""
import json, sys, time, logging, warnings
logging.disable(logging.WARNING); warnings.filterwarnings("ignore")
from basic_pitch import ICASSP_2022_MODEL_PATH
from basic_pitch.inference import Model, predict
model = Model(ICASSP_2022_MODEL_PATH)
out_dir = sys.argv[1]
results = []
for path in sys.argv[2:]:
    t0, c0 = time.perf_counter(), time.process_time()
    _, midi, _ = predict(path, model)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    out = f"{out_dir}/{path.rsplit('/', 1)[-1].rsplit('.', 1)[0]}.mid"
    midi.write(out)
    results.append({"audio": path, "midi": out, "seconds": dt, "cpu_seconds": cpu})
print(json.dumps(results))
"""


TRANSKUN_SCRIPT = r"""
import json, sys, time, logging, warnings
logging.disable(logging.WARNING); warnings.filterwarnings("ignore")
from importlib import resources
import moduleconf, torch
from transkun.Data import writeMidi
from transkun.transcribe import readAudio
base = resources.files("transkun") / "pretrained"
conf = moduleconf.parseFromFile(str(base / "2.0.conf"))["Model"]
model = conf.module.TransKun(conf=conf.config)
state = torch.load(str(base / "2.0.pt"), map_location="cpu")
model.load_state_dict(state.get("best_state_dict", state.get("state_dict")), strict=False)
model.eval()
torch.set_grad_enabled(False)
out_dir = sys.argv[1]
results = []
for path in sys.argv[2:]:
    t0, c0 = time.perf_counter(), time.process_time()
    fs, audio = readAudio(path)
    if fs != model.fs:
        import soxr
        audio = soxr.resample(audio, fs, model.fs)
    notes = model.transcribe(torch.from_numpy(audio), discardSecondHalf=False)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    out = f"{out_dir}/{path.rsplit('/', 1)[-1].rsplit('.', 1)[0]}.mid"
    writeMidi(notes).write(out)
    results.append({"audio": path, "midi": out, "seconds": dt, "cpu_seconds": cpu})
print(json.dumps(results))
"""

SCRIPTS = {"basic_pitch": BP_SCRIPT, "transkun": TRANSKUN_SCRIPT}


def run_anchor(name: str, pairs: list[tuple[Path, Path]], python: str) -> list[dict]:
    """Run anchor ``name`` ("basic_pitch" or "transkun") with ``python`` (its venv's) over the clips."""
    tmp = tempfile.mkdtemp(prefix=f"{name}-")
    proc = subprocess.run(
        [python, "-c", SCRIPTS[name], tmp, *[str(w) for w, _ in pairs]], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_basic_pitch(pairs: list[tuple[Path, Path]], bp_python: str) -> list[dict]:
    return run_anchor("basic_pitch", pairs, bp_python)


def scores_of(results: list[dict], pairs: list[tuple[Path, Path]], with_pedal: bool) -> dict[str, float]:
    from musestudio.io.audio import audio_info
    from musestudio.io.midi import read_midi
    from training.audio.evaluate import pedal_f1, score

    rows = []
    audio_s = wall_s = cpu_s = 0.0
    for res, (wav, mid) in zip(results, pairs, strict=True):
        # Notes as heard: a system that writes key releases plus CC64 (Transkun) is scored with its own pedal
        # applied, as the reference is; ours already ends pedalled notes at the pedal release (idempotent).
        est, ref = read_midi(res["midi"]).with_sustain_applied(), read_midi(mid)
        row = score(est, ref)
        if with_pedal:
            row["pedal_f1"] = pedal_f1(est, ref)
        rows.append(row)
        audio_s += audio_info(wav).duration
        wall_s += res["seconds"]
        cpu_s += res["cpu_seconds"]
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    mean["x_real_time"] = audio_s / wall_s
    # Audio seconds per CPU-second (all threads summed): what one dedicated core would give;
    # unlike wall time it barely depends on what else the shared machine is running.
    mean["x_real_time_per_cpu_second"] = audio_s / cpu_s
    mean["audio_seconds"] = audio_s
    return mean


