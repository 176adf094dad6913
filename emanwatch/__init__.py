"""emanwatch: monitoring for a district education metropolitan area network (教育城域网)."""

__version__ = "0.1.0"
