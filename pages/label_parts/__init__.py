"""The two halves of the Label page (pages/label.py): :mod:`.view`, the screen a
labeler lives in, and :mod:`.admin`, the session's administration around it."""
