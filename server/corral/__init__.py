"""Corral: an open agent-harness server, wire-compatible with Open Agent Harness /api/v1."""

__version__ = "0.1.0"
