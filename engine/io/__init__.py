"""Input and output around the pure core: the websocket adapter (`client`), our provider-compatible
server (`server`), the transport contract (`protocol`) and recordings (`recording`)."""
