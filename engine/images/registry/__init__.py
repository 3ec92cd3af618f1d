"""A client of the OCI distribution API (Docker registries): pull, push, auth.

hosts        which host and scheme serve a registry name (docker.io, insecure registries)
transport    HTTP over http.client: one connection per thread and host, redirects, retries
credentials  ~/.docker/config.json `auths` and credential helpers; login and logout
auth         WWW-Authenticate challenges: bearer tokens (cached per scope) and basic auth
client       one registry session: manifests and blobs (verified, resumable), uploads
media        media types, manifest parsing, platform selection
pull, push   the two operations, in terms of the image store
"""
