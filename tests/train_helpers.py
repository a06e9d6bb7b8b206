"""Helpers shared by the training tests."""

from __future__ import annotations


class Interrupt:
    """A callback that stops the process (as a kill would) right after checkpoint number `after`."""

    def __init__(self, after):
        self.after, self.seen = after, 0

    def zoo_train_checkpoint(self, path):
        self.seen += 1
        if self.seen == self.after:
            raise KeyboardInterrupt  # not an Exception: ends training like a kill
