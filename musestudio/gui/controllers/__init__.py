"""The main window's parts, one job each (napari-style: thin Qt views over an evented Qt-free document).

* :mod:`.jobs` — JobManager: work in worker threads, per-job progress and Cancel;
* :mod:`.document` — DocumentController: new, open, import, save, close, export, autosave, recovery;
* :mod:`.edit` — EditController: note edits, copy/cut/paste, layers, tempo map (all undoable);
* :mod:`.transport` — Transport: playhead, play/stop/loop;
* :mod:`.actions` — ActionRegistry: menu/shortcut actions whose shortcuts users can change;
* :mod:`.tempo` — TempoController: Tools > Detect Tempo (beat tracker in a job, one undo step);
* :mod:`.bindings` — ViewBinder: project events -> views and panels.
"""
