"""Prometheus rules (reachability, ring, topology; capacity and drift join with their issues)."""
