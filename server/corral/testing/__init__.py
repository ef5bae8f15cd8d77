"""Helpers that ship with the package for tests of Corral and of code built on it."""
