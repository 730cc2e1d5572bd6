"""Standalone scripts timing the toolkit against the tools users would pick instead."""
