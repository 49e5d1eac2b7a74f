"""Faults survived (issue 18 §2): `python -m tests.chaos`, `make chaos`. Not part of `make test`
(no `test_` module here): a load, kill -9s and a broker restart, then counts that must add up.

- `load.py`: the help desk seeded in the stand-ins, the status changes, the users' presses;
- `faults.py`: kill -9 of each supervised service in turn, then the broker's restart;
- `checks.py`: what must hold afterwards;
- `run.py`: the whole, and the summary table.
"""
