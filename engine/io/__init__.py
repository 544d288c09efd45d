"""Input and output around the pure core: recordings (and, later, the websocket adapter)."""
