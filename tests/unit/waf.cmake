# unit tests of the waf part (imsgw_unit_test(name extra_sources...) + target_link_libraries)
