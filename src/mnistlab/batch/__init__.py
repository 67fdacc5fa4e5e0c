"""Reading many pictures: folders and globs listed, worker processes on every core, rows streamed to
JSONL and CSV files and resumed after a crash, and Ray clusters.

Imports `reading`, `inference`, `runs` and the base modules.
"""
