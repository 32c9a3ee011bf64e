"""The PySide6 + pyqtgraph desktop app.  Qt lives only here; the domain logic is in core/io/ml."""
