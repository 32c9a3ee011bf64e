"""Models, tokenizer, generation and transcription.  torch is imported lazily inside functions."""
