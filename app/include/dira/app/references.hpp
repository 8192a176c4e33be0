#pragma once
/// @file references.hpp
/// The paper behind each protocol, cited by authors, title and arXiv number once in every
/// report (report.json `reference`) so a reader needs no other document to find the source of
/// an equation number. The same text as docs/references.md, which says how each was identified.

#include <nlohmann/json.hpp>

namespace dira::app {

/// {"paper": "authors, \"title\"", "arxiv": "NNNN.NNNNN", "cited_as": "seed 000" …} for protocol
/// 'A', 'B' or 'C' (C: both probability-estimation papers in "papers").
nlohmann::json protocol_reference(char protocol);

}  // namespace dira::app
