// The one translation unit of test_protocol that defines the module (and main).
#define BOOST_TEST_MODULE protocol
#include <boost/test/unit_test.hpp>
