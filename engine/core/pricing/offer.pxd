# Cython's types for engine/core/pricing/offer.py (an augmenting .pxd: the .py stays plain Python).
import cython

cdef long long _LADDER_TOP

@cython.locals(cents=cython.longlong, low=cython.longlong, high=cython.longlong, step=cython.longlong)
cpdef long long ladder_floor_cents(double price)

cpdef list implied_probabilities(list fair, double margin, int method)

@cython.locals(listed=list, favourite=double, p=double, implied=list, prices=list, book=double, at=Py_ssize_t,
               cents=cython.longlong, price=double)
cpdef list offer_prices(list fair, double margin, int method, double min_margin, double cap, double withdraw_at)

@cython.locals(total=double, value=double)
cdef double _sum(list values)

@cython.locals(total=double)
cdef list _proportional(list fair, double margin)

@cython.locals(total=double, probabilities=list, target=double, low=double, high=double, z=double, roots=list,
               sum_roots=double, value=double, slope_sum=double, index=Py_ssize_t, p=double, slope=double,
               step=double)
cdef list _shin(list fair, double margin)

@cython.locals(squares=double, b=double, c=double, r_first=double, r_second=double, both=double)
cdef list _shin_two(double first, double second, double target)

@cython.locals(total=double, logs=list, target=double, k=double, powered=list, value=double, slope=double,
               index=Py_ssize_t)
cdef list _power(list fair, double margin)
