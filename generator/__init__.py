"""Stillpoint: turn session recipes into guided audio sessions, offline."""

__version__ = "0.1.0"
