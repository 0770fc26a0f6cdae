# unit tests of the stub part (imsgw_unit_test(name extra_sources...) + target_link_libraries)
foreach(t test_stub_settings test_stub_hss test_stub_registrar test_stub_route test_stub_fwd
          test_stub_digest)
  imsgw_unit_test(${t})
  target_link_libraries(${t} PRIVATE imsgw_stub_lib)
endforeach()

# The stub as a real process over real sockets, driven by SIPp over TCP and UDP.
add_test(NAME sipp.stub_register
         COMMAND ${CMAKE_SOURCE_DIR}/tests/sipp/run-stub-sipp.sh $<TARGET_FILE:imsgw-ims-stub>)
set_tests_properties(sipp.stub_register PROPERTIES TIMEOUT 300)
# The largest HSS table must load and answer in seconds (a lookup that walks the table did not).
set_tests_properties(unit.test_stub_hss PROPERTIES TIMEOUT 60)
