"""The container service: what a container is (records.py), how it is made, started, entered and
removed (service.py), the runtime config its monitor gets (runtimeconfig.py) and its network
endpoints (wiring.py). engine/api.py is the door in front of it; the stores it works on
(engine/stores.py) are handed to it, as they are to the image, volume and network services.
"""
