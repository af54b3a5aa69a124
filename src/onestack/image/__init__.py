"""The image service (Glance v2 compatible): image records, sharing, and verified image data."""
