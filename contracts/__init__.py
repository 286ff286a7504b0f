"""Data in and out of alertrelay: events, jobs, dead letters, settings and provisioning.

Nothing here talks to RabbitMQ or the network.
"""
