# unit tests of the waf part (imsgw_unit_test(name extra_sources...) + target_link_libraries)
foreach(t test_waf_settings test_waf_store test_waf_keys test_waf_token test_waf_http
          test_waf_oauth test_waf_limits test_waf_imscred)
  imsgw_unit_test(${t} test_waf_tmp.c)
  target_link_libraries(${t} PRIVATE imsgw_waf_lib)
endforeach()
