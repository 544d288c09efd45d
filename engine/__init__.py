"""Table tennis live market state engine: fold the provider's live actions feed into match state.

Typical use::

    state = MatchState.new(fixture_id, MatchFormat(best_of=5))
    for frame in frames:
        state, events = reduce(state, decode(frame))
    state, events = reduce(state, EndOfStream())

Everything a user needs is importable from here.
"""

from engine.core.events import (
    ActionPending,
    Discrepancy,
    DuplicateDropped,
    EndsChanged,
    Event,
    GameWon,
    Gap,
    MatchWon,
    NotLiveData,
    PastAmended,
    PointStarted,
    PointWon,
    ServerChanged,
    Status,
    StatusChanged,
    StoppageEnded,
    StoppageStarted,
    UnexpectedServer,
    UnknownAction,
    event_name,
)
from engine.core.reduce import EndOfStream, Input, fold, reduce
from engine.core.report import describe_event, summarize
from engine.core.rules import MatchFormat, Side
from engine.core.state import MatchState
from engine.feed.catalogue import (
    DEFAULT_CATALOGUE,
    ActionCatalogue,
    ActionKind,
    ResultKind,
    SendType,
    Stoppage,
)
from engine.feed.wire import Action, Heartbeat, Malformed, Message, decode, decode_object

__all__ = [
    "DEFAULT_CATALOGUE",
    "Action",
    "ActionCatalogue",
    "ActionKind",
    "ActionPending",
    "Discrepancy",
    "DuplicateDropped",
    "EndOfStream",
    "EndsChanged",
    "Event",
    "GameWon",
    "Gap",
    "Heartbeat",
    "Input",
    "Malformed",
    "MatchFormat",
    "MatchState",
    "MatchWon",
    "Message",
    "NotLiveData",
    "PastAmended",
    "PointStarted",
    "PointWon",
    "ResultKind",
    "SendType",
    "ServerChanged",
    "Side",
    "Status",
    "StatusChanged",
    "Stoppage",
    "StoppageEnded",
    "StoppageStarted",
    "UnexpectedServer",
    "UnknownAction",
    "decode",
    "decode_object",
    "describe_event",
    "event_name",
    "fold",
    "reduce",
    "summarize",
]
