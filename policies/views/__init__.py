"""The browser UI: full pages in `pages/`, POST endpoints in `actions.py`, helpers in `common.py`."""
