"""The bundled training engine: plain PyTorch, no task knowledge.

It drives any ``torch.nn.Module`` that implements ``training_step`` / ``validation_step`` /
``test_step`` / ``predict_step`` / ``configure_optimizers``. It imports nothing from
``flash.core`` or the task packages.
"""
