#include "dira/app/references.hpp"

namespace dira::app {

nlohmann::json protocol_reference(char protocol) {
  using nlohmann::json;
  switch (protocol) {
    case 'A':
      return {{"cited_as", "seed 000"},
              {"paper",
               "R. Ramanathan, F. G. S. L. Brandão, A. Grudka, K. Horodecki, M. Horodecki, P. Horodecki, "
               "\"Robust Device Independent Randomness Amplification\""},
              {"arxiv", "1308.4635"}};
    case 'B':
      // The seed's text carries no title page: identified from its abstract (docs/references.md).
      return {{"cited_as", "seed 001"},
              {"paper",
               "R. Ramanathan, F. G. S. L. Brandão, K. Horodecki, M. Horodecki, P. Horodecki, H. Wojewódka, "
               "\"Randomness Amplification under Minimal Fundamental Assumptions on the Devices\", "
               "Phys. Rev. Lett. 117, 230501 (2016)"},
              {"arxiv", "1509.06344"}};
    case 'C':
      return {{"cited_as", "probability estimation"},
              {"papers", json::array({json{{"paper",
                                            "Y. Zhang, E. Knill, P. Bierhorst, \"Certifying quantum randomness by "
                                            "probability estimation\", Phys. Rev. A 98, 040304(R) (2018)"},
                                           {"arxiv", "1709.06159"}},
                                      json{{"paper",
                                            "E. Knill, Y. Zhang, H. Fu, \"Generation of quantum randomness by "
                                            "probability estimation with classical side information\", "
                                            "Phys. Rev. Research 2, 033465 (2020)"},
                                           {"arxiv", "1806.04553"}}})}};
    default:
      return json::object();
  }
}

}  // namespace dira::app
