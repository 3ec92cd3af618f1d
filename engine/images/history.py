"""`image history`: the image config's history entries, newest first, with their layers' sizes."""
from __future__ import annotations


def history(store, ref: str) -> list[dict]:
    image = store.get(ref)
    entries = image.history or [{"created": image.created, "created_by": ""} for _ in image.layers]
    layers = list(image.layers)
    rows = []
    for entry in entries:
        size = 0
        if not entry.get("empty_layer") and layers:
            diff_id = layers.pop(0)
            size = store.blobs.size(diff_id) if store.blobs.has(diff_id) else 0
        rows.append({"id": "<missing>", "created": entry.get("created", ""), "created_by": entry.get("created_by", ""),
                     "size": size, "comment": entry.get("comment", ""), "tags": []})
    rows.reverse()
    if rows:
        rows[0]["id"] = image.id
        rows[0]["tags"] = list(image.repo_tags)
    return rows
