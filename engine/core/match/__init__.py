"""The match and the feed: the rules, the provider's vocabulary and inputs, sequencing, the
timeline and the match state. Knows nothing of markets or prices."""
