"""The analytics service: anonymous counts of the region's events and its regional insights."""
