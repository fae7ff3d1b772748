"""The bundled training engine: plain PyTorch, no task knowledge.

It drives any ``torch.nn.Module`` that implements ``training_step`` / ``validation_step`` /
``test_step`` / ``predict_step`` / ``configure_optimizers``. It runs on :mod:`flash.fabric` (devices,
precision, processes, checkpoint files) and imports nothing from ``flash.core`` or the task packages.
``accelerator``, ``precision``, ``strategy``, ``seed`` and ``data`` here are aliases of their
``flash.fabric`` modules, kept so existing imports work.
"""
