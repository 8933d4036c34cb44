# cmake/Install.cmake - what `cmake --install` puts where, and the Debian package.
#
#   bin/casselastic
#   share/man/man1/casselastic.1.gz            hand-written (docs/man/casselastic.1.in)
#   share/man/man5/casselastic.json.5.gz       KEYS generated from the config key table
#   share/bash-completion/completions/casselastic
#   lib/systemd/system/casselastic.service     (CE_SYSTEMD_UNIT_DIR), from
#                                              contrib/casselastic.service.in at install time
#   share/doc/casselastic/                     example config, Grafana dashboard
#
# `cpack -G DEB` in the build folder packages that tree under /usr, with its
# dependencies computed by dpkg-shlibdeps from what the binary links.
include(GNUInstallDirs)

set(CE_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING "Install folder of the systemd unit (relative to the prefix)")

# ------------------------------------------------------------------ man pages
# casselastic.json(5) is spliced at build time from the key table that drives parsing
# (cli_config_manpage), so the reference cannot drift from the loader.
set(CE_MAN_DIR ${CMAKE_BINARY_DIR}/man)
configure_file(docs/man/casselastic.1.in ${CE_MAN_DIR}/casselastic.1 @ONLY)
configure_file(docs/man/casselastic.json.5.in ${CE_MAN_DIR}/casselastic.json.5.in @ONLY)
add_executable(gen_config_manpage docs/man/gen_config_manpage.c)
target_link_libraries(gen_config_manpage PRIVATE ce_cli)
add_custom_command(OUTPUT ${CE_MAN_DIR}/casselastic.json.5
  COMMAND gen_config_manpage ${CE_MAN_DIR}/casselastic.json.5.in ${CE_MAN_DIR}/casselastic.json.5
  DEPENDS gen_config_manpage ${CE_MAN_DIR}/casselastic.json.5.in
  COMMENT "Generating casselastic.json(5) from the config key table" VERBATIM)
set(CE_MAN_GZ "")
foreach(page casselastic.1 casselastic.json.5)
  add_custom_command(OUTPUT ${CE_MAN_DIR}/${page}.gz
    COMMAND gzip -9 -n -k -f ${CE_MAN_DIR}/${page}
    DEPENDS ${CE_MAN_DIR}/${page} VERBATIM)
  list(APPEND CE_MAN_GZ ${CE_MAN_DIR}/${page}.gz)
endforeach()
add_custom_target(man ALL DEPENDS ${CE_MAN_GZ})

install(FILES ${CE_MAN_DIR}/casselastic.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${CE_MAN_DIR}/casselastic.json.5.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)

# ------------------------------------------------------------------ contrib
install(FILES contrib/bash-completion/casselastic DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
# The unit names the binary by its installed path, so it is generated at install time,
# for the prefix of that install (`cmake --install --prefix P`, or cpack's /usr), not the
# configure-time one: the same build tree serves both.
install(CODE "
  if(IS_ABSOLUTE \"${CMAKE_INSTALL_BINDIR}\")
    set(CMAKE_INSTALL_FULL_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  else()
    set(CMAKE_INSTALL_FULL_BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
  endif()
  configure_file(\"${CMAKE_SOURCE_DIR}/contrib/casselastic.service.in\"
                 \"${CMAKE_BINARY_DIR}/systemd/casselastic.service\" @ONLY)")
install(FILES ${CMAKE_BINARY_DIR}/systemd/casselastic.service DESTINATION ${CE_SYSTEMD_UNIT_DIR})
install(FILES contrib/casselastic.example.json contrib/grafana-dashboard.json DESTINATION ${CMAKE_INSTALL_DOCDIR})

# ------------------------------------------------------------------ .deb
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME casselastic)
set(CPACK_PACKAGE_VENDOR casselastic)
set(CPACK_PACKAGE_CONTACT "casselastic maintainers <maintainers@casselastic.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "keeps Cassandra tables and Elasticsearch/OpenSearch indexes in sync")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "casselastic copies rows from Apache Cassandra tables to Elasticsearch or OpenSearch\n\
indexes and documents back, in passes driven by a version column, with checkpoints,\n\
dead letters, Prometheus metrics, a health endpoint and a systemd unit.")
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS systemd)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
include(CPack)
