"""Piano roll: batched note drawing, pitch and bar/beat axes, and the editing view."""
