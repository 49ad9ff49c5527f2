"""The mirror's services: pull-through of manifests, tags and blobs, single-flight, eviction."""
