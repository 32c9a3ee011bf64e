"""Training pipelines for every musestudio model (GPU, torchrun/DDP or CPU).

This package imports model definitions, tokenizer and features from
``musestudio``; ``musestudio`` never imports it.
"""
