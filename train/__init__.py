"""train stage: LoRA fine-tuning on approved exports (see docs/training.md)."""

import warnings

# transformers 5 deprecates `is_gradient_checkpointing`, but its own Trainer and peft still call it
# whenever a model is trained or an adapter loaded: a FutureWarning users can do nothing about.
# Only that message is hidden (training and inference both import this package).
warnings.filterwarnings(
    "ignore", message=r".*`is_gradient_checkpointing` is deprecated", category=FutureWarning
)
