"""The pure core: rules, timeline, sequencing, state and the reducer. No clock, no I/O."""
