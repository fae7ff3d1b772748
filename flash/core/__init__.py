"""What every task shares: the Task base, DataModule and Input bases (and the one way to build stages), tables,
nested batches, targets, outputs, finetuning."""
