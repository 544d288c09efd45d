"""Test support for us and for our users: generated matches with their truth (hypothesis).

    from hypothesis import given
    import engine.testing

    @given(engine.testing.matches(best_of=5))
    def test_my_desk(match): ...

See `engine.testing.matches` for what is generated and how to constrain it. Needs hypothesis:
`pip install 'ttengine[testing]'` (the `test` extra includes it).
"""

try:
    import hypothesis  # noqa: F401 - checked first, so a missing extra is named in the error
except ImportError as missing:  # pragma: no cover - the test environment has it
    raise ImportError("engine.testing needs hypothesis: pip install 'ttengine[testing]'") from missing

from engine.testing.matches import (
    DISTURBANCES,
    ENDINGS,
    GeneratedMatch,
    MatchBuilder,
    MatchTruth,
    matches,
    with_connection_trouble,
    with_noise,
)

__all__ = [
    "DISTURBANCES",
    "ENDINGS",
    "GeneratedMatch",
    "MatchBuilder",
    "MatchTruth",
    "matches",
    "with_connection_trouble",
    "with_noise",
]
