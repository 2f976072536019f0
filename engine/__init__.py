"""LayerDeck's engine: specs, blocks, data, training, store. Never imports Qt."""
