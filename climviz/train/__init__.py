"""Training loops (tensors in, checkpoints out). Resumable; rank-0 checkpointing."""
