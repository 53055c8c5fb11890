"""The HTTP API: `build_app(settings)` in services.api.app is its composition root; `run` serves it."""
