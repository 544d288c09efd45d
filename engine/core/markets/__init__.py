"""The markets: their ids and signals, the catalogue and policy, outcomes, and the book kept
up to date from the match state. Knows nothing of prices."""
