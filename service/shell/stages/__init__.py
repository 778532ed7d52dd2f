"""The pipeline's stages: one Faust agent each, in -> out, plus what they share to run a batch."""
