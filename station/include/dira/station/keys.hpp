#pragma once
/// @file keys.hpp
/// CurveZMQ key pairs (Curve25519, Z85 text of 40 characters) in files: `NAME.key` holds the
/// public and the secret key and is created 0600 with O_EXCL (never overwritten, never
/// readable by others); `NAME.pub` holds the public key only and is what one hands to the
/// other side. Format: docs/stations.md, "Keys".

#include <filesystem>
#include <stdexcept>
#include <string>

namespace dira::station {

/// A key file that is missing, malformed or (secret key) readable by group or others.
class KeyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct KeyPair {
  std::string public_key;  ///< Z85, 40 characters
  std::string secret_key;  ///< Z85, 40 characters
};

/// A fresh key pair from libzmq (libsodium's randombytes underneath).
KeyPair generate_key_pair();

/// Writes `<stem>.key` (0600, O_EXCL) and `<stem>.pub` (0644, O_EXCL). Throws KeyError when
/// either exists already (nothing is overwritten) or cannot be written; a half-written pair
/// is removed.
void write_key_pair(const std::filesystem::path& stem, const KeyPair& keys, const std::string& comment);

/// Reads a secret key file (public and secret key). Throws KeyError when the file is missing,
/// malformed, or its mode lets group or others read it (as ssh refuses such a key).
KeyPair read_secret_key_file(const std::filesystem::path& file);
/// Reads the public key from a `.pub` or a `.key` file.
std::string read_public_key_file(const std::filesystem::path& file);
/// True for 40 characters of valid Z85 that decode to 32 bytes.
bool is_z85_key(const std::string& text);

}  // namespace dira::station
