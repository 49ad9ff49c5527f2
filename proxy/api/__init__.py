"""The HTTP layer: the registry API (/v2), operations endpoints, middlewares."""
