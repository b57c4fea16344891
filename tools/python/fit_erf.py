"""Coefficients of the vectorized erf in kernels/cpu/vec_math.h (run with the dev venv; prints C++).

For |x| >= 0.5:  erfc(|x|) = t exp(-x^2 + P(t)),  t = 1 / (1 + |x|/2),  P a degree-7 polynomial fitted here by least
squares to log(erfc(x) / t) + x^2 on Chebyshev-spaced points of [0.5, 4.5] (the form of the classic Chebyshev
erfc approximations; these coefficients are our own fit). For |x| < 0.5 the Maclaurin series
erf(x) = 2/sqrt(pi) sum_n (-1)^n x^(2n+1) / (n! (2n+1)) to n = 6 is used, whose first dropped term is below
2e-9 there. Prints the coefficients and the float32 error of the whole approximation against math.erf.
"""
import math

import numpy as np

DEGREE = 7


def fit():
    xs = 0.5 + 4.0 * (1 - np.cos(np.linspace(0, np.pi, 4000))) / 2
    t = 1 / (1 + xs / 2)
    f = np.array([math.log(math.erfc(x)) for x in xs]) - np.log(t) + xs ** 2
    return np.polyfit(t, f, DEGREE)  # highest power first


def erf32(x, c):
    x = np.float32(x)
    ax = abs(x)
    if ax < 0.5:
        s = np.float32(0)
        for n in range(6, -1, -1):
            s = s * x * x + np.float32(2 / math.sqrt(math.pi) * (-1) ** n / (math.factorial(n) * (2 * n + 1)))
        return s * x
    t = np.float32(1) / (np.float32(1) + ax * np.float32(0.5))
    p = np.float32(0)
    for ci in c:
        p = p * t + np.float32(ci)
    r = np.float32(1) - t * np.exp(-ax * ax + p, dtype=np.float32)
    return r if x >= 0 else -r


def main():
    c = fit()
    print("// P(t), highest power first (tools/python/fit_erf.py)")
    print("constexpr float kErfcP[%d] = {%s};" % (len(c), ", ".join("%.9ef" % v for v in c)))
    series = [2 / math.sqrt(math.pi) * (-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(7)]
    print("// 2/sqrt(pi) (-1)^n / (n! (2n+1)), n = 0..6")
    print("constexpr float kErfSeries[7] = {%s};" % ", ".join("%.9ef" % v for v in series))
    xt = np.linspace(-5, 5, 40001)
    print("// max |erf32 - erf| on [-5, 5]: %.3g" % max(abs(float(erf32(x, c)) - math.erf(x)) for x in xt))


if __name__ == "__main__":
    main()
