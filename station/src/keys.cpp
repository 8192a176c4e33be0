// CurveZMQ key files (docs/stations.md, "Keys").
#include "dira/station/keys.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

namespace dira::station {

namespace {

void write_new(const std::filesystem::path& p, const std::string& text, mode_t mode) {
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) throw KeyError("cannot create " + p.string() + ": " + std::strerror(errno));
  // The mode passed to open() is reduced by the umask; a secret key must be 0600 whatever
  // it is, a public key may be more restricted than asked.
  if (::fchmod(fd, mode) != 0 && (mode & 077) == 0) {
    const int e = errno;
    ::close(fd);
    ::unlink(p.c_str());
    throw KeyError("cannot set mode of " + p.string() + ": " + std::strerror(e));
  }
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int e = errno;
      ::close(fd);
      ::unlink(p.c_str());
      throw KeyError("cannot write " + p.string() + ": " + std::strerror(e));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(p.c_str());
    throw KeyError("cannot write " + p.string() + ": " + std::strerror(errno));
  }
}

std::map<std::string, std::string> parse(const std::filesystem::path& file, const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty() || line[0] == '#') continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos) throw KeyError(file.string() + ":" + std::to_string(n) + ": expected `name = value`");
    auto trim = [](std::string s) {
      const auto b = s.find_first_not_of(" \t\r");
      const auto e = s.find_last_not_of(" \t\r");
      return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
    };
    const std::string key = trim(line.substr(0, eq));
    const std::string value = trim(line.substr(eq + 1));
    if (key != "public" && key != "secret")
      throw KeyError(file.string() + ":" + std::to_string(n) + ": unknown key '" + key + "' (public, secret)");
    if (!is_z85_key(value))
      throw KeyError(file.string() + ":" + std::to_string(n) + ": " + key +
                     " is not a CurveZMQ key (40 characters of Z85)");
    out[key] = value;
  }
  return out;
}

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw KeyError("cannot read key file " + file.string());
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

}  // namespace

bool is_z85_key(const std::string& text) {
  if (text.size() != 40) return false;
  std::uint8_t bytes[32];
  return zmq_z85_decode(bytes, text.c_str()) != nullptr;
}

KeyPair generate_key_pair() {
  char pub[41], sec[41];
  if (zmq_curve_keypair(pub, sec) != 0)
    throw KeyError(std::string("cannot generate a CurveZMQ key pair: ") + zmq_strerror(zmq_errno()) +
                   " (libzmq without CURVE support?)");
  return KeyPair{pub, sec};
}

void write_key_pair(const std::filesystem::path& stem, const KeyPair& keys, const std::string& comment) {
  const std::filesystem::path key = stem.string() + ".key", pub = stem.string() + ".pub";
  std::error_code ec;
  if (std::filesystem::exists(key, ec)) throw KeyError(key.string() + " exists already: not overwritten");
  if (std::filesystem::exists(pub, ec)) throw KeyError(pub.string() + " exists already: not overwritten");
  write_new(key,
            "# dira CurveZMQ key pair: " + comment + "\n# secret: never copy this file off its machine\npublic = " +
                keys.public_key + "\nsecret = " + keys.secret_key + "\n",
            0600);
  try {
    write_new(pub, "# dira CurveZMQ public key: " + comment + "\npublic = " + keys.public_key + "\n", 0644);
  } catch (...) {
    ::unlink(key.c_str());
    throw;
  }
}

KeyPair read_secret_key_file(const std::filesystem::path& file) {
  const auto kv = parse(file, read_text(file));
  if (!kv.count("secret")) throw KeyError(file.string() + ": no secret key (is this a .pub file?)");
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0)
    throw KeyError("cannot read key file " + file.string() + ": " + std::strerror(errno));
  if (st.st_mode & 077)
    throw KeyError(file.string() + " holds a secret key but group or others may access it (mode " + [&] {
      std::ostringstream os;
      os << std::oct << (st.st_mode & 0777);
      return os.str();
    }() + "): chmod 600 it");
  if (!kv.count("public")) throw KeyError(file.string() + ": no public key");
  // The public key must belong to the secret key: a pair mixed from two files would fail the
  // handshake with an error far from its cause.
  char derived[41];
  if (zmq_curve_public(derived, kv.at("secret").c_str()) != 0 || kv.at("public") != derived)
    throw KeyError(file.string() + ": the public key does not belong to the secret key");
  return KeyPair{kv.at("public"), kv.at("secret")};
}

std::string read_public_key_file(const std::filesystem::path& file) {
  const auto kv = parse(file, read_text(file));
  if (!kv.count("public")) throw KeyError(file.string() + ": no public key");
  return kv.at("public");
}

}  // namespace dira::station
