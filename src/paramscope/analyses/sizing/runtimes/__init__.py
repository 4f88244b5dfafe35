"""Runtime profiles: what one engine allocates beside the weights (one module per engine).

Each profile resolves the engine's own parameters the way the engine does (padding, defaults), asks
analyses/sizing/kv_cache.py for the cache with the cells that engine holds per layer kind, and adds the
engine's buffers; every formula cites the engine's source and is checked against its log (bench/).
"""
