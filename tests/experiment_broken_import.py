"""A user's callback module that fails while it is imported (the tests name it by path)."""

raise RuntimeError("this module is broken on purpose")
