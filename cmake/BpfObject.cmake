# bpf_object(<target> <name> <file.bpf.c>...)
# Compiles each BPF C file with clang -target bpf against the committed
# vmlinux.h, links them into one <name>.bpf.o (bpftool gen object; maps and
# rodata declared __weak in shared headers become one each), generates its
# libbpf skeleton <name>.skel.h, and exposes it as an INTERFACE library.  Any
# header under bpf/ or vmlinux/ is a dependency of every file.
find_program(BPF_CLANG NAMES clang clang-14 REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(BPF_ARCH arm64)
else()
  message(FATAL_ERROR "fdwatch: no vmlinux.h for ${CMAKE_SYSTEM_PROCESSOR}")
endif()

# clang -target bpf drops the host's system include dirs; add them back after
# ours (-idirafter) so <linux/types.h>/<asm/...> resolve, as libbpf-bootstrap does.
execute_process(COMMAND ${BPF_CLANG} -v -E - INPUT_FILE /dev/null
                ERROR_VARIABLE _clang_v OUTPUT_QUIET)
string(REGEX MATCH "#include <...> search starts here:\n(.*)\nEnd of search list." _m "${_clang_v}")
string(REPLACE "\n" ";" _dirs "${CMAKE_MATCH_1}")
set(BPF_SYS_INCLUDES "")
foreach(d ${_dirs})
  string(STRIP "${d}" d)
  if(d)
    list(APPEND BPF_SYS_INCLUDES -idirafter ${d})
  endif()
endforeach()

function(bpf_object target name)
  set(outdir ${CMAKE_BINARY_DIR}/bpf)
  set(obj ${outdir}/${name}.bpf.o)
  set(skel ${outdir}/${name}.skel.h)
  file(GLOB_RECURSE deps ${CMAKE_SOURCE_DIR}/bpf/*.h ${CMAKE_SOURCE_DIR}/vmlinux/${BPF_ARCH}/*.h)
  set(parts "")
  foreach(src ${ARGN})
    get_filename_component(part ${src} NAME_WE)   # open.bpf.c -> open
    set(part_obj ${outdir}/parts/${part}.bpf.o)
    add_custom_command(
      OUTPUT ${part_obj}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${outdir}/parts
      COMMAND ${BPF_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_${BPF_ARCH} -Wall
              -I${CMAKE_SOURCE_DIR}/vmlinux/${BPF_ARCH} -I${CMAKE_SOURCE_DIR}/bpf
              ${BPF_SYS_INCLUDES} -c ${src} -o ${part_obj}
      DEPENDS ${src} ${deps}
      COMMENT "BPF ${part}.bpf.c"
      VERBATIM)
    list(APPEND parts ${part_obj})
  endforeach()
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${BPFTOOL} gen object ${obj} ${parts}
    DEPENDS ${parts}
    COMMENT "BPF link ${name}.bpf.o"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}
    DEPENDS ${obj}
    COMMENT "skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(${target}_gen DEPENDS ${skel})
  add_library(${target} INTERFACE)
  add_dependencies(${target} ${target}_gen)
  target_include_directories(${target} INTERFACE ${outdir})
endfunction()
