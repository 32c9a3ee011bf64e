"""Audio data for the transcriber: rendering, augmentation, labels and cached datasets."""
