"""Broadcasts and the publicity calendar: paced, resumable sending over any channel."""
