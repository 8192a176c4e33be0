#!/usr/bin/env python3
"""Independent referee for dira's no-signalling dual certificates ("dira-ns-dual-certificate/1").

Usage:  python3 scripts/check_certificate.py [--quiet | --json] FILE [FILE ...]

This script does not trust dira. It uses only the Python standard library and exact
rational arithmetic (fractions.Fraction); it never evaluates a floating-point number
from the file except to compare the informational "bound_value" field.

What a certificate file claims
------------------------------
A behaviour of the scenario (n parties, party i with S_i settings and O_i outcomes) is a
vector P of probabilities P(x|u), one per setting tuple u and outcome tuple x. Variable
number k is (u, x) with

    k = setting_index(u) * outcome_count + outcome_index(x),

both indices mixed-radix with party 0 the most significant digit. The script rebuilds
this layout from "scenario" and checks that "variables.list" agrees with it.

"rows" are linear identities a_i . P = rhs_i. The script accepts a row only if it holds
for EVERY no-signalling behaviour, which it checks by recognising its shape:

  * normalisation:  sum_x P(x|u) = 1                      (all outcomes of one u, +1, rhs 1)
  * no-signalling:  sum_{x_i} P(x|u) - sum_{x_i} P(x|u') = 0
                    for one party i, settings u, u' that differ only in party i, and a
                    fixed outcome tuple x_{-i} of the other parties       (+1/-1, rhs 0)

Any other row is rejected (and so is any certificate that uses it). "bell_row" is the
Bell expression B; it is part of the hypothesis of the statement, not something to check.

Each certificate claims: every behaviour P that is no-signalling (P >= 0 and all rows
hold) and, when delta is not null, satisfies B . P <= delta, has

    objective . P <= bound.

Why the multipliers prove it (weak duality)
-------------------------------------------
Take multipliers lambda_i (any sign: the rows are equalities) and t = bell_multiplier
>= 0, and define the reduced costs

    r = objective - sum_i lambda_i a_i - t B .

Then, for every such P,

    objective . P = sum_i lambda_i (a_i . P) + t (B . P) + r . P
                  = sum_i lambda_i rhs_i     + t (B . P) + r . P            (rows hold)
                 <= sum_i lambda_i rhs_i     + t delta   + r . P            (t >= 0, B.P <= delta)
                 <= sum_i lambda_i rhs_i     + t delta   + sum_u max(0, max_x r(x,u)).

The last step holds setting by setting: P(.|u) is a probability vector (P >= 0 and
sum_x P(x|u) = 1), so sum_x r(x,u) P(x|u) is a convex combination of the r(x,u) and
hence at most max_x r(x,u) <= max(0, max_x r(x,u)). (The max with 0 makes the term
valid even if only sum_x P(x|u) <= 1 were known; when every r <= 0 the slack is 0 and
the bound is the textbook dual objective sum_i lambda_i rhs_i + t delta.)
When delta is null there is no Bell constraint, and t must be 0.

So the script recomputes, in exact arithmetic,

    slack = sum_u max(0, max_x r(x,u))
    bound = sum_i lambda_i rhs_i + t * delta + slack

and requires it to equal the certificate's "bound" (and "slack") exactly. Nothing
about how dira found the multipliers matters: any multipliers giving this bound prove it.
The bound is an upper bound; whether it is tight (equals the LP optimum) is not claimed.

The script also checks that the objective is what the certificate's label says it is:

  * event [x_0, ..., x_{n-1}]: objective = P(x|u) for the certificate's setting u;
  * event "maj=e": objective = 1/2 (P(maj = e | u) - P(maj != e | u)) = P(maj = e | u) - 1/2,
    where maj is the majority of the outcomes of some set of two-outcome parties (the
    script finds which set; a tie counts as maj = 0, i.e. maj = 1 needs a strict majority
    of ones). The bound then reads P(maj = e | u) <= bound + 1/2.

Labels (parties, settings, outcomes) are 0-based, as in dira (docs/labels.md).

Second mode: Protocol C's PEF certificate (pef.json)
---------------------------------------------------
A file whose top level has "pefs" (and no "format") is read as a probability-estimation-factor
certificate (docs/protocol-c-security.md section 7):

    {"settings_model": {"kind": "santha-vazirani", "epsilon": "<exact>"},
     "behaviour_model": "no-signalling",
     "pefs": [{"trials": [first, last], "beta": "<exact>", "F": [16 decimal strings]}, ...]}

F is ordered (a, b, x, y) with y fastest: index 8a + 4b + 2x + y. For every PEF the script checks,
in exact rational arithmetic, F >= 0, beta > 0 and, for each of the 8 vertices nu of the one-stream
SV settings set (nu(x) nu(y|x), each factor 1/2 - eps or 1/2 + eps, Bob's bias depending on x)
and each of the 24 vertices p of the CHSH no-signalling polytope (16 deterministic, 8 PR boxes),

    sum_{c,z} nu(z) p(c|z)^(1+beta) F(c,z) <= 1.

p(c|z) is 0, 1/2 or 1. 0 and 1 are exact. (1/2)^(1+beta) is irrational in general, so the script
uses a rational U >= 2^-(1+beta), proved exactly: with beta = r/s in lowest terms,
U >= 2^-(1+r/s)  <=>  U^s * 2^(s+r) >= 1, checked with integer powers. (U is found with the
decimal module to 50 digits, rounded up; only the exact check matters.) Replacing p^(1+beta) by
an upper bound can only increase the left side, since nu, F >= 0, so a pass is a proof.
Segments must have 0 <= first <= last, be in increasing order and not overlap, and all share
one beta. Why checking vertex pairs suffices: docs/protocol-c-security.md section 3.

Exit status: 0 if every certificate in every file passes, 1 if any check fails (or a
file holds no certificate), 2 if a file cannot be read or is not a well-formed
"dira-ns-dual-certificate/1" file.
"""

import argparse
import json
import re
import sys
from fractions import Fraction

FORMAT = "dira-ns-dual-certificate/1"
_RATIONAL = re.compile(r"^\s*([+-]?\d+)(?:\s*/\s*(\d+))?\s*$")


class Malformed(Exception):
    """The input is not a well-formed certificate file (exit status 2)."""


# ---------------------------------------------------------------------------------------
# Parsing helpers: every value is type-checked; floats are never accepted as exact data.


def rational(value, where):
    if isinstance(value, bool):
        raise Malformed(f"{where}: expected an integer or a 'p/q' string, got {value!r}")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, str):
        m = _RATIONAL.match(value)
        if m:
            den = int(m.group(2)) if m.group(2) is not None else 1
            if den == 0:
                raise Malformed(f"{where}: zero denominator in {value!r}")
            return Fraction(int(m.group(1)), den)
    raise Malformed(f"{where}: expected an integer or a 'p/q' string, got {value!r}")


def integer(value, where, lo=None, hi=None):
    if isinstance(value, bool) or not isinstance(value, int):
        raise Malformed(f"{where}: expected an integer, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise Malformed(f"{where}: {value} out of range [{lo}, {hi}]")
    return value


def array(value, where):
    if not isinstance(value, list):
        raise Malformed(f"{where}: expected a list, got {type(value).__name__}")
    return value


def field(obj, key, where):
    if not isinstance(obj, dict):
        raise Malformed(f"{where}: expected an object")
    if key not in obj:
        raise Malformed(f"{where}: missing key '{key}'")
    return obj[key]


def sparse(value, where, size, coefficient):
    """[[index, coefficient], ...] -> {index: Fraction}, duplicates summed, zeros dropped."""
    out = {}
    for n, pair in enumerate(array(value, where)):
        w = f"{where}[{n}]"
        if not isinstance(pair, list) or len(pair) != 2:
            raise Malformed(f"{w}: expected [index, coefficient]")
        k = integer(pair[0], w + "[0]", 0, size - 1)
        out[k] = out.get(k, Fraction(0)) + coefficient(pair[1], w + "[1]")
    return {k: c for k, c in out.items() if c != 0}


def fmt_tuple(t):
    return "(" + ",".join(str(v) for v in t) + ")"


def fmt_q(q):
    return f"{q} = {float(q):.10g}" if q.denominator != 1 else str(q)


# ---------------------------------------------------------------------------------------
# The scenario and its variable layout, rebuilt from scratch.


class Layout:
    def __init__(self, scenario):
        where = "scenario"
        self.parties = integer(field(scenario, "parties", where), "scenario.parties", 1, 64)
        self.S = [integer(v, f"scenario.settings_per_party[{i}]", 1, 10**6)
                  for i, v in enumerate(array(field(scenario, "settings_per_party", where), "scenario.settings_per_party"))]
        self.O = [integer(v, f"scenario.outcomes_per_party[{i}]", 1, 10**6)
                  for i, v in enumerate(array(field(scenario, "outcomes_per_party", where), "scenario.outcomes_per_party"))]
        if len(self.S) != self.parties or len(self.O) != self.parties:
            raise Malformed("scenario: settings_per_party and outcomes_per_party must have one entry per party")
        self.setting_count = _product(self.S)
        self.outcome_count = _product(self.O)
        self.size = self.setting_count * self.outcome_count
        if self.size > 10**7:
            raise Malformed(f"scenario: {self.size} variables is more than this checker handles")
        self.settings = _tuples(self.S)   # settings[s] = tuple u with setting_index(u) = s
        self.outcomes = _tuples(self.O)   # outcomes[o] = tuple x with outcome_index(x) = o

    def setting_index(self, u):
        s = 0
        for digit, radix in zip(u, self.S):
            s = s * radix + digit
        return s

    def outcome_index(self, x):
        o = 0
        for digit, radix in zip(x, self.O):
            o = o * radix + digit
        return o

    def valid_setting(self, u):
        return (isinstance(u, list) and len(u) == self.parties and
                all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < r for v, r in zip(u, self.S)))

    def valid_outcome(self, x):
        return (isinstance(x, list) and len(x) == self.parties and
                all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < r for v, r in zip(x, self.O)))


def _product(values):
    p = 1
    for v in values:
        p *= v
    return p


def _tuples(radices):
    """All tuples in mixed-radix order, the first position most significant."""
    out = [()]
    for r in radices:
        out = [t + (d,) for t in out for d in range(r)]
    return out


def check_variables(layout, variables):
    """Returns a list of problems (empty if 'variables.list' matches the rebuilt layout)."""
    lst = array(field(variables, "list", "variables"), "variables.list")
    if len(lst) != layout.size:
        return [f"variables.list has {len(lst)} entries; the scenario has {layout.size} variables"]
    oc = layout.outcome_count
    for k, entry in enumerate(lst):
        u, x = layout.settings[k // oc], layout.outcomes[k % oc]
        if entry != [list(u), list(x)]:
            return [f"variables.list[{k}] is {json.dumps(entry)}; the layout (party 0 most significant) "
                    f"gives [{list(u)}, {list(x)}]"]
    return []


# ---------------------------------------------------------------------------------------
# Rows: each must be a normalisation or a no-signalling identity.


def classify_row(layout, coeffs, rhs):
    """Returns a description of the identity, or raises ValueError with the reason it is not one."""
    oc = layout.outcome_count
    if not coeffs:
        raise ValueError("row has no nonzero terms")
    bad = [k for k, c in coeffs.items() if c not in (1, -1)]
    if bad:
        raise ValueError(f"coefficient {coeffs[bad[0]]} on variable {bad[0]} (only +1/-1 occur in "
                         "normalisation and no-signalling rows)")
    pos = sorted(k for k, c in coeffs.items() if c == 1)
    neg = sorted(k for k, c in coeffs.items() if c == -1)

    def one_setting(ks, what):
        s = {k // oc for k in ks}
        if len(s) != 1:
            raise ValueError(f"the {what} terms span {len(s)} settings")
        return s.pop()

    if not neg:
        s = one_setting(pos, "+1")
        if rhs != 1:
            raise ValueError(f"looks like a normalisation row but rhs is {rhs}, not 1")
        if len(pos) != oc:
            raise ValueError(f"normalisation row for u={fmt_tuple(layout.settings[s])} has {len(pos)} of {oc} outcomes")
        return f"normalisation at u={fmt_tuple(layout.settings[s])}"
    if not pos:
        raise ValueError("all coefficients are -1")
    if rhs != 0:
        raise ValueError(f"looks like a no-signalling row but rhs is {rhs}, not 0")
    s_pos, s_neg = one_setting(pos, "+1"), one_setting(neg, "-1")
    u, v = layout.settings[s_pos], layout.settings[s_neg]
    differ = [i for i in range(layout.parties) if u[i] != v[i]]
    if len(differ) != 1:
        raise ValueError(f"settings u={fmt_tuple(u)} and u'={fmt_tuple(v)} differ in {len(differ)} parties, not exactly one")
    i = differ[0]
    x0 = layout.outcomes[pos[0] % oc]
    rest = x0[:i] + x0[i + 1:]
    block = {layout.outcome_index(rest[:i] + (a,) + rest[i:]) for a in range(layout.O[i])}
    if {k % oc for k in pos} != block:
        raise ValueError(f"the +1 terms are not exactly P(x|u={fmt_tuple(u)}) over all x_{i} with the other "
                         f"parties' outcomes fixed to {fmt_tuple(rest)}")
    if {k % oc for k in neg} != block:
        raise ValueError(f"the -1 terms are not exactly P(x|u'={fmt_tuple(v)}) over all x_{i} with the other "
                         f"parties' outcomes fixed to {fmt_tuple(rest)}")
    return f"no-signalling of party {i} between u={fmt_tuple(u)} and u'={fmt_tuple(v)}, others' outcomes {fmt_tuple(rest)}"


# ---------------------------------------------------------------------------------------
# What the objective means.


def interpret_objective(layout, setting, event, objective):
    """Returns (readable statement left-hand side, offset, problem or None).

    The statement proven is  lhs <= bound + offset  (offset 1/2 for majority objectives,
    which are P(maj=e|u) - 1/2)."""
    oc = layout.outcome_count
    if not layout.valid_setting(setting):
        return "objective.P", Fraction(0), f"setting {setting!r} is not a setting of the scenario"
    u = tuple(setting)
    s = layout.setting_index(u)
    if isinstance(event, list):
        if not layout.valid_outcome(event):
            return "objective.P", Fraction(0), f"event {event!r} is not an outcome tuple of the scenario"
        k = s * oc + layout.outcome_index(event)
        lhs = f"P(x={fmt_tuple(event)} | u={fmt_tuple(u)})"
        if objective != {k: Fraction(1)}:
            return lhs, Fraction(0), f"objective is not the single term P(x={fmt_tuple(event)}|u={fmt_tuple(u)}) (variable {k})"
        return lhs, Fraction(0), None
    m = re.fullmatch(r"maj=(\d+)", event) if isinstance(event, str) else None
    if m:
        e = int(m.group(1))
        half = Fraction(1, 2)
        keys = set(range(s * oc, (s + 1) * oc))
        lhs = f"P(maj={e} | u={fmt_tuple(u)})"
        if set(objective) != keys or any(abs(c) != half for c in objective.values()):
            return lhs, half, (f"objective is not +-1/2 on every outcome of u={fmt_tuple(u)}, as "
                               f"1/2(P(maj={e}|u) - P(maj!={e}|u)) must be")
        plus = {k - s * oc for k, c in objective.items() if c == half}
        binary = [p for p in range(layout.parties) if layout.O[p] == 2]
        for size in range(1, len(binary) + 1):
            for subset in _subsets(binary, size):
                event_set = {o for o, x in enumerate(layout.outcomes)
                             if (1 if 2 * sum(x[p] for p in subset) > len(subset) else 0) == e}
                if event_set == plus:
                    names = ",".join(f"x{p}" for p in subset)
                    return f"P(maj({names})={e} | u={fmt_tuple(u)})", half, None
        return lhs, half, (f"the +1/2 outcomes of the objective are not {{x : maj(x_S) = {e}}} for any set S of "
                           "two-outcome parties")
    return "objective.P", Fraction(0), None


def _subsets(items, size):
    if size == 0:
        yield ()
        return
    for n in range(len(items) - size + 1):
        for rest in _subsets(items[n + 1:], size - 1):
            yield (items[n],) + rest


# ---------------------------------------------------------------------------------------
# Protocol C: probability estimation factor certificates (pef.json).


def exact_decimal(value, where):
    """A JSON string holding an integer, a finite decimal, 'p/q' or 'NeM': exact Fraction."""
    if not isinstance(value, str):
        raise Malformed(f"{where}: expected a string holding an exact number, got {value!r}")
    try:
        return Fraction(value.strip())
    except (ValueError, ZeroDivisionError):
        raise Malformed(f"{where}: not an exact number: {value!r}")


def sv_vertices_exact(eps):
    half = Fraction(1, 2)
    lo, hi = half - eps, half + eps
    out = []
    for nx0 in (lo, hi):
        for ny0 in (lo, hi):
            for ny1 in (lo, hi):
                out.append([nx0 * ny0, nx0 * (1 - ny0), (1 - nx0) * ny1, (1 - nx0) * (1 - ny1)])
    return out


def ns_vertices_exact():
    """Entries 0, 1 (deterministic) or 'half' (PR boxes), index 8a + 4b + 2x + y."""
    out = []
    for a0 in range(2):
        for a1 in range(2):
            for b0 in range(2):
                for b1 in range(2):
                    p = [0] * 16
                    for x in range(2):
                        for y in range(2):
                            p[8 * (a1 if x else a0) + 4 * (b1 if y else b0) + 2 * x + y] = 1
                    out.append(("deterministic", p))
    for r in range(2):
        for s in range(2):
            for t in range(2):
                p = [0] * 16
                for x in range(2):
                    for y in range(2):
                        for a in range(2):
                            p[8 * a + 4 * (a ^ (x & y) ^ (r & x) ^ (s & y) ^ t) + 2 * x + y] = "half"
                out.append(("PR", p))
    return out


def half_power_upper(beta):
    """A rational U with U >= 2^-(1+beta), proved by U^s 2^(s+r) >= 1 for beta = r/s."""
    import decimal
    r, s = beta.numerator, beta.denominator
    ctx = decimal.Context(prec=60)
    est = ctx.exp(ctx.multiply(ctx.divide(decimal.Decimal(-(r + s)), decimal.Decimal(s)), ctx.ln(decimal.Decimal(2))))
    up = decimal.Context(prec=80, rounding=decimal.ROUND_CEILING)
    u = Fraction(up.quantize(est, decimal.Decimal(1).scaleb(-50)))
    step = Fraction(1, 10 ** 50)
    for _ in range(64):
        if u.numerator ** s * 2 ** (s + r) >= u.denominator ** s:
            return u
        u += step
        step *= 2
    raise Malformed(f"could not bound 2^-(1+beta) for beta = {beta}")


def check_pef_file(data):
    errors = []
    sm = field(data, "settings_model", "top level")
    kind = field(sm, "kind", "settings_model")
    if kind != "santha-vazirani":
        raise Malformed(f"settings_model.kind is {kind!r}; this checker knows 'santha-vazirani'")
    eps = exact_decimal(field(sm, "epsilon", "settings_model"), "settings_model.epsilon")
    if not (0 <= eps < Fraction(1, 2)):
        raise Malformed(f"settings_model.epsilon = {eps} not in [0, 1/2)")
    bm = field(data, "behaviour_model", "top level")
    if bm != "no-signalling":
        raise Malformed(f"behaviour_model is {bm!r}; this checker knows 'no-signalling'")
    nus = sv_vertices_exact(eps)
    boxes = ns_vertices_exact()
    results = []
    prev_last = -1
    beta0 = None
    for i, seg in enumerate(array(field(data, "pefs", "top level"), "pefs")):
        w = f"pefs[{i}]"
        trials = array(field(seg, "trials", w), f"{w}.trials")
        if len(trials) != 2:
            raise Malformed(f"{w}.trials: expected [first, last]")
        first = integer(trials[0], f"{w}.trials[0]", lo=0)
        last = integer(trials[1], f"{w}.trials[1]", lo=0)
        beta = exact_decimal(field(seg, "beta", w), f"{w}.beta")
        F = [exact_decimal(v, f"{w}.F[{k}]") for k, v in enumerate(array(field(seg, "F", w), f"{w}.F"))]
        errs = []
        if len(F) != 16:
            raise Malformed(f"{w}.F: expected 16 values, got {len(F)}")
        if first > last or first <= prev_last:
            errs.append(f"trial range [{first}, {last}] empty, out of order or overlapping the previous one")
        prev_last = max(prev_last, last)
        if beta <= 0:
            errs.append(f"beta = {beta} is not > 0")
        if beta0 is None:
            beta0 = beta
        elif beta != beta0:
            errs.append(f"beta = {beta} differs from the first PEF's {beta0}")
        if any(f < 0 for f in F):
            errs.append("some F < 0")
        worst = Fraction(0)
        if not errs:
            h = half_power_upper(beta)
            for vi, nu in enumerate(nus):
                for bi, (bkind, p) in enumerate(boxes):
                    total = Fraction(0)
                    for k in range(16):
                        if p[k] == 1:
                            total += nu[k & 3] * F[k]
                        elif p[k] == "half":
                            total += nu[k & 3] * h * F[k]
                    worst = max(worst, total)
                    if total > 1:
                        errs.append(f"constraint (settings vertex {vi}, {bkind} box {bi}) = {float(total):.15g} > 1")
        results.append({"kind": "certificate", "index": i, "inequality": "CHSH PEF", "setting": "pef",
                        "event": f"trials {first}..{last}", "delta": None, "ok": not errs, "errors": errs,
                        "statement": (f"PEF with beta = {beta} for trials {first}..{last}: all 192 vertex-pair "
                                      f"constraints <= 1 (max {float(worst):.12g})")})
    if not results:
        errors.append("no PEF in the file")
    file_result = {"kind": "file", "inequality": f"CHSH PEF (SV epsilon = {eps}, no-signalling)", "variables": 16,
                   "rows": 192, "bell_terms": 0, "certificates": len(results), "ok": not errors, "errors": errors}
    return file_result, results


# ---------------------------------------------------------------------------------------
# One file.


def check_file(path):
    """Returns (file result dict, list of certificate result dicts). Raises Malformed."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise Malformed(f"cannot read: {e.strerror or e}")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise Malformed(f"not JSON: {e}")
    if not isinstance(data, dict):
        raise Malformed("top level is not a JSON object")
    if "pefs" in data and "format" not in data:
        return check_pef_file(data)
    fmt = field(data, "format", "top level")
    if fmt != FORMAT:
        raise Malformed(f"format is {fmt!r}; this checker reads {FORMAT!r}")
    name = data.get("inequality", "?")
    layout = Layout(field(data, "scenario", "top level"))
    file_errors = check_variables(layout, field(data, "variables", "top level"))

    # Rows.
    rows = []           # (coeffs, rhs)
    row_problem = {}    # row index -> reason it is not a valid identity
    for i, row in enumerate(array(field(data, "rows", "top level"), "rows")):
        w = f"rows[{i}]"
        kind = field(row, "kind", w)
        coeffs = sparse(field(row, "terms", w), w + ".terms", layout.size, rational)
        rhs = rational(field(row, "rhs", w), w + ".rhs")
        rows.append((coeffs, rhs))
        label = row.get("label", "") if isinstance(row, dict) else ""
        if kind != "equal":
            row_problem[i] = f"kind is {kind!r}, not 'equal'"
        else:
            try:
                classify_row(layout, coeffs, rhs)
            except ValueError as why:
                row_problem[i] = str(why)
        if i in row_problem:
            file_errors.append(f"rows[{i}] ({label!r}) is not a normalisation or no-signalling identity: {row_problem[i]}")

    bell = sparse(field(data, "bell_row", "top level"), "bell_row", layout.size, rational)

    certs = array(field(data, "certificates", "top level"), "certificates")
    if not certs:
        file_errors.append("the file holds no certificates: nothing is proven")

    results = []
    oc = layout.outcome_count
    for c_index, cert in enumerate(certs):
        w = f"certificates[{c_index}]"
        setting = field(cert, "setting", w)
        event = field(cert, "event", w)
        delta_raw = field(cert, "delta", w)
        delta = None if delta_raw is None else rational(delta_raw, w + ".delta")
        objective = sparse(field(cert, "objective", w), w + ".objective", layout.size, rational)
        t = rational(field(cert, "bell_multiplier", w), w + ".bell_multiplier")
        claimed_bound = rational(field(cert, "bound", w), w + ".bound")
        claimed_slack = rational(cert["slack"], w + ".slack") if "slack" in cert else None
        errors = []

        # Multipliers: sparse [row index, value]; a repeated row index is ambiguous.
        lam = {}
        for n, pair in enumerate(array(field(cert, "multipliers", w), w + ".multipliers")):
            pw = f"{w}.multipliers[{n}]"
            if not isinstance(pair, list) or len(pair) != 2:
                raise Malformed(f"{pw}: expected [row_index, 'p/q']")
            i = integer(pair[0], pw + "[0]", 0, len(rows) - 1)
            if i in lam:
                errors.append(f"row {i} has more than one multiplier")
            lam[i] = rational(pair[1], pw + "[1]")
        for i in sorted(lam):
            if lam[i] != 0 and i in row_problem:
                errors.append(f"uses rows[{i}], which is not a valid identity ({row_problem[i]})")

        if t < 0:
            errors.append(f"bell_multiplier is {t} < 0: B.P <= delta only bounds t*(B.P) from above when t >= 0")
        if delta is None and t != 0:
            errors.append(f"delta is null (no Bell constraint) but bell_multiplier is {t}, not 0")

        # Reduced costs r = objective - sum_i lambda_i a_i - t B, exactly.
        r = [Fraction(0)] * layout.size
        for k, c in objective.items():
            r[k] += c
        const = Fraction(0)
        for i, l in lam.items():
            if l == 0:
                continue
            coeffs, rhs = rows[i]
            for k, a in coeffs.items():
                r[k] -= l * a
            const += l * rhs
        if t != 0:
            for k, b in bell.items():
                r[k] -= t * b
            const += t * (delta if delta is not None else 0)
        slack = Fraction(0)
        for s in range(layout.setting_count):
            m = max(r[s * oc:(s + 1) * oc])
            if m > 0:
                slack += m
        bound = const + slack

        if bound != claimed_bound:
            errors.append(f"recomputed bound {bound} (= {float(bound):.12g}) != claimed bound {claimed_bound} "
                          f"(= {float(claimed_bound):.12g})")
        if claimed_slack is not None and claimed_slack != slack:
            errors.append(f"recomputed slack {slack} != claimed slack {claimed_slack}")
        bv = cert.get("bound_value")
        if isinstance(bv, (int, float)) and not isinstance(bv, bool):
            if abs(bv - float(claimed_bound)) > 1e-12 * max(1.0, abs(float(claimed_bound))):
                errors.append(f"bound_value {bv!r} does not match bound {claimed_bound}")

        lhs, offset, problem = interpret_objective(layout, setting, event, objective)
        if problem:
            errors.append(problem)
        hyp = "every no-signalling P" + ("" if delta is None else f" with B.P <= {fmt_q(delta)}")
        statement = f"{hyp} has {lhs}{' - 1/2' if offset else ''} <= {fmt_q(claimed_bound)}"
        if offset:
            statement += f", i.e. {lhs} <= {fmt_q(claimed_bound + offset)}"
        results.append({
            "kind": "certificate",
            "file": path,
            "inequality": name,
            "index": c_index,
            "setting": setting,
            "event": event,
            "lemma": cert.get("lemma"),
            "delta": None if delta is None else str(delta),
            "delta_value": None if delta is None else float(delta),
            "bound": str(claimed_bound),
            "bound_value": float(claimed_bound),
            "recomputed_bound": str(bound),
            "slack": str(slack),
            "statement": statement,
            "ok": not errors and not file_errors,
            "errors": errors + (["file-level check failed (see the file entry)"] if file_errors else []),
        })

    file_result = {
        "kind": "file",
        "file": path,
        "inequality": name,
        "variables": layout.size,
        "rows": len(rows),
        "bell_terms": len(bell),
        "certificates": len(certs),
        "ok": not file_errors,
        "errors": file_errors,
    }
    return file_result, results


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=f"Independently verify dira's exact no-signalling dual certificates ({FORMAT}).",
        epilog="Exit status: 0 all certificates verified; 1 some check failed; 2 unreadable or malformed input.")
    ap.add_argument("files", nargs="+", metavar="FILE", help="certificate file written by `dira bounds --certificate FILE`")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("-q", "--quiet", action="store_true", help="print only failures")
    mode.add_argument("--json", action="store_true", help="print a JSON summary list (one entry per file and per certificate)")
    args = ap.parse_args(argv)

    summary = []
    malformed = False
    failed = False
    for path in args.files:
        try:
            file_result, results = check_file(path)
        except Malformed as e:
            malformed = True
            print(f"{path}: MALFORMED: {e}", file=sys.stderr)
            summary.append({"kind": "file", "file": path, "ok": False, "malformed": True, "errors": [str(e)]})
            continue
        summary.append(file_result)
        summary.extend(results)
        n_ok = sum(1 for res in results if res["ok"])
        failed = failed or not file_result["ok"] or n_ok != len(results)
        if args.json:
            continue
        for err in file_result["errors"]:
            print(f"{path}: FAIL: {err}")
        for res in results:
            where = (f"{path}: certificate {res['index']} (u={fmt_tuple(res['setting']) if isinstance(res['setting'], list) else res['setting']}, "
                     f"{res['event'] if isinstance(res['event'], str) else 'x=' + fmt_tuple(res['event'])}, delta={res['delta']})")
            if res["ok"]:
                if not args.quiet:
                    print(f"ok    {res['inequality']} #{res['index']}: {res['statement']}")
            else:
                for err in res["errors"]:
                    print(f"FAIL  {where}: {err}")
        if not args.quiet or not file_result["ok"] or n_ok != len(results):
            verdict = "all verified" if file_result["ok"] and n_ok == len(results) else "FAILED"
            print(f"{path}: {file_result['inequality']}: {n_ok}/{len(results)} certificates verified "
                  f"({file_result['variables']} variables, {file_result['rows']} rows, B with {file_result['bell_terms']} terms) - {verdict}")
    if args.json:
        json.dump(summary, sys.stdout, indent=1)
        sys.stdout.write("\n")
    return 2 if malformed else 1 if failed else 0


if __name__ == "__main__":
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into `head`
        sys.stderr.close()
        code = 1
    sys.exit(code)
