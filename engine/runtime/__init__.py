"""The runtime: a `Match` per fixture (`following`), fed live or from a recording (`sources`), its
updates delivered to callbacks (`callbacks`) and `async for` (`delivery`)."""
