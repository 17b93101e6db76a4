# Installing and packaging: `cmake --install build [--prefix P]` (DESTDIR
# honoured) and `cmake --build build --target package` (fdwatch_VERSION_ARCH.deb
# through CPack, Depends computed by dpkg-shlibdeps).
include(GNUInstallDirs)

# fdwatch(8), generated from its scdoc source at build time.
find_program(SCDOC scdoc REQUIRED)
set(FDWATCH_MAN_SRC ${CMAKE_SOURCE_DIR}/docs/man/fdwatch.8.scd)
set(FDWATCH_MAN ${CMAKE_BINARY_DIR}/man/fdwatch.8)
add_custom_command(
  OUTPUT ${FDWATCH_MAN}.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
  COMMAND ${CMAKE_COMMAND} -E env SOURCE_DATE_EPOCH=0 ${SCDOC} < ${FDWATCH_MAN_SRC} > ${FDWATCH_MAN}
  COMMAND gzip -9nf -k ${FDWATCH_MAN}
  DEPENDS ${FDWATCH_MAN_SRC}
  COMMENT "scdoc fdwatch.8"
  VERBATIM)
add_custom_target(fdwatch_man ALL DEPENDS ${FDWATCH_MAN}.gz)

install(TARGETS fdwatch RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(FILES ${FDWATCH_MAN}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${CMAKE_SOURCE_DIR}/completion/fdwatch.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME fdwatch)
if(EXISTS ${CMAKE_SOURCE_DIR}/deploy)
  install(DIRECTORY ${CMAKE_SOURCE_DIR}/deploy/ DESTINATION ${CMAKE_INSTALL_DATADIR}/fdwatch)
endif()
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}
        FILES_MATCHING PATTERN "*.md" PATTERN "man" EXCLUDE)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME fdwatch)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "fdwatch maintainers <fdwatch@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "find file-descriptor leaks with BPF")
set(CPACK_PACKAGE_DESCRIPTION
    "fdwatch traces every syscall that creates or destroys a file descriptor with BPF and reports which process leaks, what, from where in the code, how fast, and when it hits its limit.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # fdwatch_VERSION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
set(CPACK_STRIP_FILES ON)
include(CPack)
