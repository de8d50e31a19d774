"""The MQTT bridge: plant data from the gateway into MQTT, as a Unified Namespace or Sparkplug B.

An optional extra (``pip install mxgateway[mqtt]``) that sits above the core like the
CLI does; the core never imports it. Run it with ``mxgw-py bridge mqtt --config FILE``
or from code::

    config = load_config("bridge.toml")
    await Bridge(config).run()

See ``docs/bridge.md`` for the configuration, the topic layouts, store-and-forward,
writes from MQTT and health.
"""

from __future__ import annotations

from mxgateway.bridge.config import BridgeConfig, ConfigError, Secret, load_config, parse_config
from mxgateway.bridge.health import Counters
from mxgateway.bridge.runner import Bridge

__all__ = ["Bridge", "BridgeConfig", "ConfigError", "Counters", "Secret", "load_config", "parse_config"]
