"""The module Dramatiq worker processes import: the broker, then every actor."""

from workers.actors import declare_actors
from workers.broker import install_broker

broker = install_broker()
actors = declare_actors()
