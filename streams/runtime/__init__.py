"""What drives the join on Faust: the app, the batched consumer path, exactly-once commits, the
state store, the web view and the metrics. Everything that touches Faust or aiokafka is here."""
