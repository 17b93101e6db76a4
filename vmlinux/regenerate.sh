#!/bin/sh
# Regenerates the committed CO-RE header for this machine's architecture from
# the running kernel's BTF.  CO-RE relocations make one header good for other
# kernels too, so this is only needed to reach types newer kernels added.
set -eu
arch=$(uname -m)
case "$arch" in
  x86_64) dir=x86 ;;
  aarch64) dir=arm64 ;;
  *) echo "regenerate.sh: unsupported arch $arch" >&2; exit 1 ;;
esac
mkdir -p "$(dirname "$0")/$dir"
bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$(dirname "$0")/$dir/vmlinux.h"
echo "wrote vmlinux/$dir/vmlinux.h"
