"""`make fuzz`: hostile input at volume against the whole pipeline (see tests/fuzz/run.py)."""
