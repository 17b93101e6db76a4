// A minimal HTTP/1.0 client for tests that talk to the exporter and to
// Prometheus on loopback, and a free loopback port to give them.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <string>

namespace fdw::test {

struct HttpResponse {
  int status = 0;
  std::string headers;  // raw header lines, lower-cased names kept as sent
  std::string body;
  std::string header(const std::string& name) const {
    // case-insensitive "\nName: value\r"
    std::string lower_h, lower_n = "\n" + name + ":";
    for (char c : headers) lower_h += char(tolower(c));
    for (char& c : lower_n) c = char(tolower(c));
    auto at = lower_h.find(lower_n);
    if (at == std::string::npos) return "";
    auto start = headers.find_first_not_of(' ', at + lower_n.size());
    auto end = headers.find('\r', start);
    return headers.substr(start, end - start);
  }
};

// GET http://127.0.0.1:port<path>; nullopt when nothing answers within
// `seconds` (connection refused, timeout).
inline std::optional<HttpResponse> http_get(int port, const std::string& path,
                                            const std::string& extra_headers = "",
                                            double seconds = 10) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return std::nullopt;
  }
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n" + extra_headers +
                    "Connection: close\r\n\r\n";
  if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != ssize_t(req.size())) {
    close(fd);
    return std::nullopt;
  }
  std::string raw;
  char buf[65536];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, int(seconds * 1000)) <= 0) {
      close(fd);
      return std::nullopt;
    }
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    raw.append(buf, size_t(n));
  }
  close(fd);
  auto split = raw.find("\r\n\r\n");
  if (raw.compare(0, 5, "HTTP/") != 0 || split == std::string::npos) return std::nullopt;
  HttpResponse r;
  r.status = atoi(raw.c_str() + raw.find(' ') + 1);
  r.headers = raw.substr(0, split + 2);
  r.body = raw.substr(split + 4);
  return r;
}

// Percent-encodes a query parameter value.
inline std::string url_encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += char(c);
    } else {
      char b[4];
      snprintf(b, sizeof b, "%%%02X", c);
      out += b;
    }
  }
  return out;
}

// A loopback port nobody listens on right now (the kernel's pick for port 0).
inline int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

}  // namespace fdw::test
