"""The tracking service: shipments for shoppers and support staff, over HTTP.

It imports only :mod:`schemas` of tracecode: live state comes from the workers' web views,
history from ClickHouse, both over the network.
"""
