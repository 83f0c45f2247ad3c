"""The join itself, with no runtime: fold, rules, output records, the arrival-order merge and
deadlines. Nothing here imports Faust or a Kafka client, so all of it is tested without a broker
and the reference checks run the very code the worker runs."""
