"""The Quix Streams peer of the ETA-variance and inventory/reorder jobs (issue #10); see README.md."""
