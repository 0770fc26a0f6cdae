# Unit tests of the gateway's parsers and validators.
imsgw_unit_test(test_flow)
target_link_libraries(test_flow PRIVATE imsgw_gateway_lib)
imsgw_unit_test(test_tok testkeys.c)
target_link_libraries(test_tok PRIVATE imsgw_gateway_lib)
imsgw_unit_test(test_regevent)
target_link_libraries(test_regevent PRIVATE imsgw_gateway_lib)
