"""alertrelay: Grafana-style contact points delivered through RabbitMQ."""

__version__ = "0.1.0"
