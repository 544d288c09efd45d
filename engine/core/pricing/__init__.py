"""Prices: the model of the rules (`model`), its arithmetic (`kernel`, compiled when built), the
odds we offer (`odds`) and the prices kept on the book (`prices`)."""
