"""streams: the Faust app joining scans and dispatches into per-shipment state."""
