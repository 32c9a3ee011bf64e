"""One file per model, each with a @dataclass config (see musestudio.ml.registry)."""
