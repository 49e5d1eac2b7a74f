"""The CLI's groups of commands (`okrate kafka ...`, `okrate link ...`), registered by `okrate.cli`."""
