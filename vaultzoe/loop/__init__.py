"""The reconcile loop, by step: parts, adopting notes, observing, deciding (tasks/decide.py), executing."""
