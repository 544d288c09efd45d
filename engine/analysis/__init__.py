"""Above the runtime: what is computed from replays and shown to people — the JSON summary and the
trace line (`report`, `trace`), the live scoreboard, a match's review and its picture, a folder as a
table, the calibration of the prices."""
