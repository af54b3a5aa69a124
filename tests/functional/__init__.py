"""Functional tests: the real onestack server driven by the real OpenStack clients."""
