# Cython's types for engine/core/pricing/kernel.py (an augmenting .pxd: the .py stays plain Python).
import cython

cdef int _GAME_WINNER, _GAME_TOTAL_POINTS, _RACE_TO, _POINT_WINNER, _MATCH_WINNER, _CORRECT_SCORE, _TOTAL_GAMES
cdef int _HOME_WIN, _TIE, _TIE_WIN, _TIE_SPLIT, _TIE_POINT, _HEAD
cdef double _NEVER_PLAYED

cdef class Score:
    cdef readonly int points_to_win, games_to_win, games_home, games_away, game, home, away
    cdef readonly bint expedite

cdef class Serving:
    cdef readonly bint home_next, home_opened

cdef class Posterior:
    cdef readonly list weights, home_serves, away_serves

cdef class MarketAsk:
    cdef readonly int kind, game, number
    cdef readonly double line

cdef class Prices:
    cdef readonly object widths, starts, values

@cython.locals(low=int)
cdef int _past_tie(int tie_at, int home, int away)

cdef object _zeros(Py_ssize_t size)
cdef object _int_zeros(Py_ssize_t size)

@cython.locals(on_home=double, on_away=double, on_serve=double, off_serve=double, played0=int, turn0=int,
               size=int, ended_at=int, first_home_at=int,
               first_away_at=int, home_win=double, played=int, turn=int, p=double, low=int, high=int,
               home=int, away=int, at=int, r=double, won=double, lost=double, both=double, neither=double,
               tie_turn=int)
cdef void _game_table(int tie_at, int start_home, int start_away, bint server_home, bint expedite,
                      double home_serve, double away_serve, double[::1] reach, double[::1] table,
                      double[::1] zeros)

cdef int _table_size(int tie_at)

cdef double _home_wins(double[::1] table)

cpdef bint decided(int kind, int game, double line, int number, int at_game, int home, int away)

@cython.locals(over=double, total=int, needed=int, from_tie=double)
cdef double _total_over(double[::1] table, int tie_at, double line)

@cython.locals(first_home_at=int, first_away_at=int, home=double, away=double, p=double, neither=double)
cdef void _race_into(double[::1] out, Py_ssize_t at, double weight, double[::1] table, int tie_at, int target)

@cython.locals(tie_at=int, games_to_win=int, games_home=int, games_away=int, at_game=int, home=int, away=int,
               expedite=bint, past=int, count=Py_ssize_t, ask=MarketAsk, serving=Serving,
               kinds=cython.longlong[::1], games=cython.longlong[::1], lines=double[::1], numbers=cython.longlong[::1],
               width=cython.longlong[::1], starts=cython.longlong[::1], index=Py_ssize_t,
               kind=int, total=Py_ssize_t, out=double[::1], out_array=object, wants_match=bint, node=Py_ssize_t,
               share=double, weight=double, home_serve=double, away_serve=double, current=double[::1],
               opener_home_table=double[::1], opener_away_table=double[::1], table=double[::1], game=int,
               table_size=int, zeros=double[::1], reach=double[::1],
               at=Py_ssize_t, won=double, over=double, variant=Py_ssize_t, server_home=bint, opener_home=bint,
               wants_future=bint, side=int, finals=double[::1], played=double[::1], mass=double[::1],
               scaled=double, chance=double, slot=Py_ssize_t)
cpdef Prices price_position(Score score, list servings, Posterior posterior, list asks)

@cython.locals(won=double, over=double)
cdef void _game_market_into(double[::1] out, Py_ssize_t at, double weight, int kind, double[::1] table, int tie_at,
                            double line, int number)

@cython.locals(side=int, layer=double[::1], following=double[::1], first=int, last=int, at_played=int, offset=int,
               p=double, home=int, away=int, chance=double, won=double, lost=double, reached=double, at=int)
cdef void _game_chances(double[::1] finals, double[::1] played, int games_to_win, int games_home, int games_away,
                        double current_home, double opener_home_wins, double opener_away_wins, bint opener_home)

@cython.locals(side=int, home=int, away=int, index=Py_ssize_t, kind=int, at=Py_ssize_t, slot=Py_ssize_t,
               won=double, over=double)
cdef void _match_into(double[::1] out, long long[::1] starts, long long[::1] width, long long[::1] kinds, double[::1] lines,
                      int games_to_win, int games_home, int games_away, double[::1] finals, double weight)
