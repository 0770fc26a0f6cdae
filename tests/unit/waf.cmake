# unit tests of the waf part (imsgw_unit_test(name extra_sources...) + target_link_libraries)
foreach(t test_waf_settings test_waf_store test_waf_keys test_waf_token test_waf_http
          test_waf_oauth test_waf_limits test_waf_kek test_waf_imscred)
  imsgw_unit_test(${t} test_waf_tmp.c)
  target_link_libraries(${t} PRIVATE imsgw_waf_lib)
endforeach()
# The same store and OAuth unit tests against PostgreSQL, in a throw-away cluster of their own.
add_test(NAME unit.waf-postgresql
  COMMAND ${CMAKE_SOURCE_DIR}/tests/pg/with-pg.sh sh -c "$0 && $1"
          $<TARGET_FILE:test_waf_store> $<TARGET_FILE:test_waf_oauth>)
set_tests_properties(unit.waf-postgresql PROPERTIES TIMEOUT 120)
