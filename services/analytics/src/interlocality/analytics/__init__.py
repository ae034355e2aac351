"""The analytics service: anonymous counts of the region's events."""
