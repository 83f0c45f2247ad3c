"""producers: carrier scans and seller dispatches into Kafka."""
