"""LayerDeck's PySide6 GUI: a thin view over the engine."""
