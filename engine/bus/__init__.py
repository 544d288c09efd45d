"""The bus: the update stream over RabbitMQ (`BusPublisher`, the engine's side; `Mirror`, a
service's side), as Sportradar's UOF delivers odds to a bookmaker. Needs `ttengine[bus]` (aio-pika)."""
