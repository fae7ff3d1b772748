"""What every task shares: the Task base, DataModule and Input bases, targets, outputs, finetuning."""
