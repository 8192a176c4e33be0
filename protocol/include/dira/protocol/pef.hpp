#pragma once
/// @file pef.hpp
/// Probability estimation factors (PEFs) for CHSH steered by one Santha–Vazirani stream
/// (Protocol C, issue 11; docs/protocol-c-security.md). Models, the optimiser (GLPK in a
/// tangent-plane loop), and the outward-rounded certification (MPFR).
///
/// Cell order everywhere: k = 8a + 4b + 2x + y for outcomes (a, b) and settings (x, y),
/// i.e. (a, b, x, y) with y fastest.

#include "dira/protocol/rational.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace dira::protocol {

/// Number of (c, z) cells of CHSH: 2 outcomes × 2 outcomes × 2 settings × 2 settings.
inline constexpr int kChshCells = 16;

/// Cell index of outcomes (a, b) and settings (x, y): (a, b, x, y) with y fastest.
constexpr int chsh_cell(int a, int b, int x, int y) {
  return 8 * a + 4 * b + 2 * x + y;
}

/// Setting-probability vector ν(x, y), indexed 2x + y.
using SettingDistribution = std::array<Rational, 4>;

/// The settings one ε-SV stream can produce when it supplies Alice's bit x and then Bob's
/// bit y (Bob's bias may depend on x). The set is the product of the intervals
/// ν(x=0) ∈ [½−ε, ½+ε] and ν(y=0|x) ∈ [½−ε, ½+ε] for x = 0, 1, mapped by the multilinear
/// map ν(x, y) = ν(x)ν(y|x); its extreme points are images of the 2·2·2 = 8 box corners
/// (docs/protocol-c-security.md §3.2).
struct SvSettingsModel {
  Rational epsilon;  ///< 0 ≤ ε < ½
  /// The 8 vertices, exact. Order: bit 2 = ν(x=0) high, bit 1 = ν(y=0|x=0) high, bit 0 = ν(y=0|x=1) high.
  std::vector<SettingDistribution> vertices() const;
};

/// Behaviour models for the devices.
enum class BehaviourModel {
  no_signalling,  ///< the CHSH no-signalling polytope: 16 local deterministic + 8 PR boxes (exact)
};
const char* to_string(BehaviourModel model);

/// A CHSH behaviour p(a, b | x, y) as twice its value (0, 1 or 2), exact: every vertex of the
/// no-signalling polytope has entries in {0, ½, 1}. Index chsh_cell(a, b, x, y).
using HalfIntegerBehaviour = std::array<std::uint8_t, kChshCells>;

/// The 24 vertices of the CHSH no-signalling polytope: 16 deterministic boxes
/// (a = α_x, b = β_y; index 8α₀+4α₁+2β₀+β₁... in that loop order) then 8 PR boxes
/// a ⊕ b = xy ⊕ rx ⊕ sy ⊕ t (index 16 + 4r + 2s + t).
std::vector<HalfIntegerBehaviour> no_signalling_vertices();

/// The joint distribution μ(c, z) = ν(z) p(c|z) in cell order, for a behaviour p (cell order,
/// p(a,b|x,y)) and setting distribution ν (index 2x + y); uniform ν when `nu` is empty.
std::array<double, kChshCells> joint_distribution(const std::array<double, kChshCells>& behaviour,
                                                  const std::array<double, 4>& nu = {0.25, 0.25, 0.25, 0.25});

/// Options for optimise_pef.
struct PefOptions {
  double tolerance = 1e-10;  ///< stop when (upper bound − achieved) of E[ln F] is below this (nats)
  int max_iterations = 400;  ///< LP solves
};

/// A floating-point PEF from the optimiser (not yet certified).
struct PefSolution {
  double beta = 0;
  std::array<double, kChshCells> F{};
  double log2_gain = 0;           ///< E_ref[log2 F] achieved by F (F is feasible up to LP tolerance)
  double log2_gain_upper = 0;     ///< upper bound on the optimum from the tangent-plane relaxation
  double log2_gain_variance = 0;  ///< Var_ref[log2 F] (planner's completeness margin)
  int iterations = 0;
};

/// Maximises E_ref[ln F] over F ≥ 0 subject to the 8 × 24 vertex-pair constraints
/// Σ_k ν(z_k) p(c_k|z_k)^{1+β} F_k ≤ 1 (docs §4). `reference` is the joint distribution of
/// (c, z) of the honest apparatus (sums to 1). The concave objective is replaced by the
/// minimum of tangent planes of each ln F_k (an outer approximation), solved by GLPK, and
/// tangents are added at each LP solution until the bound gap is below the tolerance.
PefSolution optimise_pef(const SvSettingsModel& settings, const std::array<double, kChshCells>& reference, double beta,
                         const PefOptions& options = {});

/// A certified PEF: every vertex-pair constraint checked with upward rounding.
struct CertifiedPef {
  std::string settings_epsilon;  ///< ε of the settings model, exact ("p/q")
  BehaviourModel behaviour = BehaviourModel::no_signalling;
  std::string beta_exact;  ///< β, exact ("p/q" or integer)
  Rational beta;
  std::array<std::string, kChshCells> F_decimal;  ///< F as finite decimals (these ARE the certified values)
  std::array<Rational, kChshCells> F_exact;       ///< the same values, exact
  std::array<double, kChshCells> log2F_lower{};   ///< log2 F rounded down (−∞ where F = 0)
  double max_constraint_upper = 0;  ///< max over the 192 constraints of an upward-rounded Σ ν p^{1+β} F
  double margin = 0;                ///< every constraint is ≤ 1 − margin
  double scale = 1;                 ///< factor applied to the optimiser's F (≤ 1)
  double log2_gain = 0;             ///< E_ref[log2 F] of the certified F, when a reference was given
};

/// Upward-rounded value of Σ_k ν(z_k) p(c_k|z_k)^{1+β} F_k for one vertex pair (MPFR, 128 bits).
double constraint_upper(const SettingDistribution& nu, const HalfIntegerBehaviour& p, const Rational& beta,
                        const std::array<Rational, kChshCells>& F);

/// Certifies a floating-point PEF: F → decimals with 15 places (rounded down) → every
/// constraint evaluated with upward rounding → F scaled down until each is ≤ 1 − margin.
/// `beta` is exact. log2 F is rounded down (MPFR RNDD). `reference` (optional) only fills log2_gain.
CertifiedPef certify_pef(const SvSettingsModel& settings, const Rational& beta, const std::array<double, kChshCells>& F,
                         double margin = 1e-9, const std::array<double, kChshCells>* reference = nullptr);

/// Optimise + certify at one β, with β given exactly.
CertifiedPef make_certified_pef(const SvSettingsModel& settings, const std::array<double, kChshCells>& reference,
                                const Rational& beta, const PefOptions& options = {});

/// β chosen by scanning a grid (exact rationals 1/1000 … 1/2, geometric): the β that maximises
/// the net rate (E_ref[log2 F] − log2(1/ε_est)/n)/β for n planned trials (docs §5). Returns the
/// optimiser's solution at the best β and that β exactly in `beta_exact`.
struct BetaChoice {
  Rational beta_exact;
  PefSolution solution;
  double net_rate = 0;  ///< bits of min-entropy per trial, net of the estimation cost at n
};
BetaChoice choose_beta(const SvSettingsModel& settings, const std::array<double, kChshCells>& reference,
                       double planned_trials, double log2_inv_eps_est, const PefOptions& options = {});

/// The default β grid (exact rationals, increasing).
std::vector<Rational> beta_grid();

/// The data of pef.json (docs §7); the app serialises it. One entry per PEF segment.
struct PefCertificateData {
  struct Segment {
    std::uint64_t first = 0, last = 0;  ///< trial range scored by this PEF (inclusive)
    std::string beta;
    std::array<std::string, kChshCells> F;
  };
  std::string settings_kind = "santha-vazirani";
  std::string epsilon;
  std::string behaviour_model = "no-signalling";
  std::vector<Segment> pefs;
};

}  // namespace dira::protocol
