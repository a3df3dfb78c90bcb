"""The emulator's surfaces, one FastAPI router each; ``app.create_app`` mounts them."""
