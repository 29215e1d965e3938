"""Sizes and counts."""

MiB = 1024 * 1024


def ceil_div(a: int, b: int) -> int:
    """How many `b`-sized pieces hold `a`: parts of a file, pages of a list."""
    return -(-a // b)
