#!/usr/bin/env python3
"""Independent reference for Protocol C's PEF optimum (standard library only; no dira code).

Usage: python3 scripts/pef_reference.py --epsilon E --beta B --visibility V --efficiency ETA
           [--dark D] --theta T --angles A0 A1 B0 B1 [--iterations N]

Method (different from dira's GLPK tangent-plane primal): the dual. For the reference joint
distribution w(c,z) and the constraint rows A_i(c,z) = nu_i(z) p_i(c|z)^(1+beta) (8 SV vertices x
24 no-signalling vertices), every lambda in the simplex gives the upper bound

    max_F E_w[ln F]  <=  sum_k w_k ln(w_k / q_k),   q = A^T lambda,

(Jensen: sum w ln(F q / w) <= ln sum F q = ln(lambda^T A F) <= 0), with equality at the optimum,
where F = w/q. The minimising lambda is found by the EM / multiplicative update
lambda_i <- lambda_i * sum_k A_ik w_k / q_k (monotone, as for mixture weights). Each iterate
also gives a feasible PEF: F = w/q divided by max_i (A F)_i; its E_w[ln F] is a lower bound.
The script prints both bounds in log2 units and their gap.

The photonic model is written out again from docs/protocol-c-security.md section 8 (Eberhard
state cos t|00> + sin t|11>, white noise V, efficiency eta, dark counts D, click = 1).
"""
import argparse
import math


def behaviour(V, eta, d, theta, angles, mu=1.0):
    a = angles[:2]
    b = angles[2:]
    p = [0.0] * 16
    c, s = math.cos(theta), math.sin(theta)
    for x in range(2):
        for y in range(2):
            al, be = a[x], b[y]
            amp = c * math.cos(al) * math.cos(be) + s * math.sin(al) * math.sin(be)
            qab = mu * (V * amp * amp + (1 - V) / 4)
            qa = mu * (V * (c * c * math.cos(al) ** 2 + s * s * math.sin(al) ** 2) + (1 - V) / 2)
            qb = mu * (V * (c * c * math.cos(be) ** 2 + s * s * math.sin(be) ** 2) + (1 - V) / 2)
            # probability of "no detection" events, then dark counts independently
            nA = 1 - eta * qa
            nB = 1 - eta * qb
            nAB = 1 - eta * qa - eta * qb + eta * eta * qab
            p00 = nAB * (1 - d) ** 2
            p0_ = nA * (1 - d)
            p_0 = nB * (1 - d)
            z = 2 * x + y
            p[0 + z] = p00
            p[4 + z] = p0_ - p00
            p[8 + z] = p_0 - p00
            p[12 + z] = 1 - p0_ - p_0 + p00
    return p


def sv_vertices(eps):
    lo, hi = 0.5 - eps, 0.5 + eps
    out = []
    for nx0 in (lo, hi):
        for ny0 in (lo, hi):
            for ny1 in (lo, hi):
                out.append([nx0 * ny0, nx0 * (1 - ny0), (1 - nx0) * ny1, (1 - nx0) * (1 - ny1)])
    return out


def ns_vertices():
    out = []
    for a0 in range(2):
        for a1 in range(2):
            for b0 in range(2):
                for b1 in range(2):
                    p = [0.0] * 16
                    for x in range(2):
                        for y in range(2):
                            aa = a1 if x else a0
                            bb = b1 if y else b0
                            p[8 * aa + 4 * bb + 2 * x + y] = 1.0
                    out.append(p)
    for r in range(2):
        for s in range(2):
            for t in range(2):
                p = [0.0] * 16
                for x in range(2):
                    for y in range(2):
                        for aa in range(2):
                            bb = aa ^ (x & y) ^ (r & x) ^ (s & y) ^ t
                            p[8 * aa + 4 * bb + 2 * x + y] = 0.5
                out.append(p)
    return out


def solve(eps, beta, w, iterations):
    rows = []
    for nu in sv_vertices(eps):
        for p in ns_vertices():
            rows.append([nu[k & 3] * (p[k] ** (1 + beta) if p[k] > 0 else 0.0) for k in range(16)])
    m = len(rows)
    lam = [1.0 / m] * m
    best_lower = -math.inf
    upper = math.inf
    for it in range(iterations):
        q = [sum(lam[i] * rows[i][k] for i in range(m)) for k in range(16)]
        upper = min(upper, sum(w[k] * math.log(w[k] / q[k]) for k in range(16) if w[k] > 0))
        F = [w[k] / q[k] if w[k] > 0 else 0.0 for k in range(16)]
        g = [sum(rows[i][k] * F[k] for k in range(16)) for i in range(m)]
        gmax = max(g)
        lower = sum(w[k] * math.log(F[k] / gmax) for k in range(16) if w[k] > 0)
        best_lower = max(best_lower, lower)
        if upper - best_lower < 1e-13:
            break
        lam = [lam[i] * g[i] for i in range(m)]
        s = sum(lam)
        lam = [v / s for v in lam]
    return best_lower / math.log(2), upper / math.log(2), it + 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epsilon", type=float, default=0.0)
    ap.add_argument("--beta", type=float, required=True)
    ap.add_argument("--visibility", type=float, default=1.0)
    ap.add_argument("--efficiency", type=float, default=1.0)
    ap.add_argument("--dark", type=float, default=0.0)
    ap.add_argument("--theta", type=float, required=True)
    ap.add_argument("--angles", type=float, nargs=4, required=True)
    ap.add_argument("--iterations", type=int, default=20000)
    args = ap.parse_args()
    p = behaviour(args.visibility, args.efficiency, args.dark, args.theta, args.angles)
    w = [0.25 * v for v in p]
    lo, up, its = solve(args.epsilon, args.beta, w, args.iterations)
    print(f"E[log2 F]: lower {lo:.12g} upper {up:.12g} gap {up - lo:.3g} iterations {its}")
    print(f"rate E[log2 F]/beta: {lo / args.beta:.9g} .. {up / args.beta:.9g}")


if __name__ == "__main__":
    main()
