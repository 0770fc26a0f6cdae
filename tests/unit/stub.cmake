# unit tests of the stub part (imsgw_unit_test(name extra_sources...) + target_link_libraries)
