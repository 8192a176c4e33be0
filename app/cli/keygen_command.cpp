// `dira keygen NAME`: a CurveZMQ key pair for a station or a coordinator (docs/stations.md, "Keys").
#include "commands.hpp"

#include "dira/station/keys.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>
#include <memory>

namespace dira::cli {

std::function<int()> register_keygen_command(CLI::App& app) {
  auto stem = std::make_shared<std::string>();
  auto comment = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  auto* c = app.add_subcommand(
      "keygen",
      "Write a CurveZMQ key pair: NAME.key (secret, mode 0600, never overwritten) and NAME.pub (give this one "
      "to the other side). docs/stations.md");
  c->add_option("name", *stem, "Path and name of the pair, without extension (e.g. keys/alice)")->required();
  c->add_option("--comment", *comment, "Written into both files (default: the name)");
  c->add_flag("--json", *as_json, "JSON output: the files and the public key");
  return [=]() -> int {
    if (!*c) return -1;
    try {
      // The shipped examples say `dira keygen keys/alice` in a fresh directory: create the
      // folder a pair goes into, private (0700), as the key files themselves are.
      if (const auto parent = std::filesystem::path(*stem).parent_path(); !parent.empty()) {
        std::error_code ec;
        if (std::filesystem::create_directories(parent, ec))
          std::filesystem::permissions(parent, std::filesystem::perms::owner_all, ec);
        else if (ec)
          throw station::KeyError("cannot create the directory " + parent.string() + ": " + ec.message());
      }
      const auto keys = station::generate_key_pair();
      station::write_key_pair(*stem, keys, comment->empty() ? *stem : *comment);
      if (*as_json)
        std::cout << nlohmann::json{{"secret_key_file", *stem + ".key"},
                                    {"public_key_file", *stem + ".pub"},
                                    {"public_key", keys.public_key}}
                         .dump(2)
                  << "\n";
      else
        std::cout << "wrote " << *stem << ".key (secret, 0600) and " << *stem << ".pub\npublic key " << keys.public_key
                  << "\n";
      return ok;
    } catch (const station::KeyError& e) {
      std::cerr << "dira keygen: " << e.what() << "\n";
      return usage_error;
    }
  };
}

}  // namespace dira::cli
