"""The container service: what a container is (records.py), how it is made, started, stopped,
entered and removed (service.py), the runtime config its monitor starts it from (runtimeconfig.py),
its network endpoints (wiring.py) and the undoing of what a failed step made (cleanup.py).
engine/api.py is the door in front of it; the stores it works on (engine/stores.py) are handed
to it, as they are to the image, volume and network services.
"""
