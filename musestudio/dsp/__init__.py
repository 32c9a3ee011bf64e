"""Signal processing front ends (spectrogram features for the transcriber and the GUI)."""
