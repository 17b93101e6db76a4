#include <gtest/gtest.h>

#include "sys/proc.h"

using namespace fdw;

TEST(ProcParse, NofileLimit) {
  std::string limits =
      "Limit                     Soft Limit           Hard Limit           Units     \n"
      "Max cpu time              unlimited            unlimited            seconds   \n"
      "Max open files            256                  524288               files     \n";
  EXPECT_EQ(parse_nofile_limit(limits), 256u);
  EXPECT_FALSE(parse_nofile_limit("Max open files            unlimited  unlimited files\n"));
  EXPECT_FALSE(parse_nofile_limit("garbage"));
}

TEST(ProcParse, NetTcpAndTcp6) {
  std::string tcp =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4711 1 0 100 0 0 10 0\n"
      "   1: 0100007F:9D78 0100007F:1F91 01 00000000:00000000 00:00000000 00000000     0        0 4712 1 0 20 4 30 10 -1\n";
  auto m = parse_proc_net(tcp, "tcp", false);
  EXPECT_EQ(m.at(4711), "tcp 127.0.0.1:8081 (listen)");
  EXPECT_EQ(m.at(4712), "tcp 127.0.0.1:40312->127.0.0.1:8081");
  std::string tcp6 =
      "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 99 2 0 0 0\n";
  auto u = parse_proc_net(tcp6, "udp", true);
  EXPECT_EQ(u.at(99), "udp [::1]:53");
}

TEST(ProcParse, NetUnix) {
  std::string unix_ =
      "Num       RefCount Protocol Flags    Type St Inode Path\n"
      "0000000000000000: 00000002 00000000 00010000 0001 01 2001 /run/dbus/system_bus_socket\n"
      "0000000000000000: 00000003 00000000 00000000 0001 03 2002\n";
  auto m = parse_proc_net_unix(unix_);
  EXPECT_EQ(m.at(2001), "unix /run/dbus/system_bus_socket");
  EXPECT_EQ(m.at(2002), "unix");
}
