"""vaultzoe: an orchestrator for coding agents whose whole interface is an Obsidian vault."""

__version__ = "0.1.0"
