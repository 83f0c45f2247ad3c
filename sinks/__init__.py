"""sinks: shipment history, state and alerts into ClickHouse."""
