#pragma once
/// @file security_a.hpp
/// Protocol A security accounting (seed 000, Proposition 3 / eq. 17) for actual block
/// sizes, with the corrections of docs/protocol-a-security.md. All terms in log10.

#include <optional>
#include <string>
#include <vector>

namespace dira::protocol {

/// λ = lg(1+2ε): n(½+ε)^{lg n} = n^λ (Lemma 6; the log is base 2, §2.2).
double sv_lambda(double epsilon);
/// Worst-case probability over ε-SV sources that ⌈lg n⌉ bits name a value < n (one attempt of
/// the box-choice rejection sampling; exact recursion over the bits of n, §1.2).
double box_choice_acceptance(double n, double epsilon);
/// lg κ(n) with κ(n) = n·(½+ε)^b / p_acc(n), b = ⌈lg n⌉: n times the largest probability of one box.
double log2_box_choice_kappa(double n, double epsilon);

struct ProtocolASecurityInput {
  double epsilon = 0.01, delta = 0.05, mu = 0.5;
  int devices = 0;                   ///< k
  std::vector<double> valid_runs;    ///< n_j per device, in device order (n_1 first)
  bool post_discard = true;          ///< settings outside U0∪U1 measured then discarded (Fig. 2 literally)
  std::optional<double> planned_t;   ///< t of eq. 16/17, if the run was planned with one
  std::optional<double> tight_bias;  ///< β(δ) from the certified LP (seed-notes: 1/4 + 5δ/8 for δ ≤ 1/5)
};

/// Each bound as log10 of its terms and of their sum.
struct ProtocolABound {
  std::string name;    ///< "paper", "paper_corrected", "tight"
  std::string formula;
  double log10_bias = 0, log10_test = 0, log10_de_finetti = 0, log10_total = 0;
};

struct ProtocolASecurity {
  double threshold = 0;              ///< (½−ε)^4·(δ/2)·(1−μ)
  double lambda = 0;
  double log10_de_finetti_actual = 0;  ///< 6·C^{2/3}, C = Σ_{i≥2} (8 ln2 κ_i S_{i−1}/n_i)^{1/4} (§2.4)
  std::vector<ProtocolABound> bounds;
  std::vector<std::string> assumptions;
  std::vector<std::string> notes;
};

ProtocolASecurity protocol_a_security(const ProtocolASecurityInput& input);

/// Upper bound on the probability that an honest device whose chosen boxes each have
/// P(B = 1) ≤ p̄ is rejected: exp(−k·KL(thr‖p̄)) for p̄ < thr, else 1 (Chernoff, §4).
/// For white noise of per-qubit visibility V: Bell value b = 4(1−V⁴), p̄ = b/8.
double protocol_a_log10_reject(int devices, double threshold, double p_bar);

/// Smallest powers-of-two blocks that make eq. 17's de Finetti term ≤ 4/√t + 2/t
/// (n_1 = 1, n_i^{1−λ} ≥ 8 ln2 k⁴t⁴ S_{i−1}, §2.5–2.6): log10 of n_k and of M (trials),
/// or log10 log10 when they do not fit in a double.
struct ProtocolABlockPlan {
  double log10_last_block = 0;
  double log10_log10_last_block = 0;
  double log10_trials = 0;         ///< log10 E[M] ≤ log10(Σ n_j/(½−ε)); +inf if it overflows
  double log10_log10_trials = 0;
  bool fits_in_double = true;
  std::vector<double> log2_blocks;  ///< lg n_j for the first blocks (as many as fit)
};
ProtocolABlockPlan protocol_a_blocks(double epsilon, int devices, double t);

}  // namespace dira::protocol
