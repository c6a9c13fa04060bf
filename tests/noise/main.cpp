// The one translation unit of test_noise that defines the module (and main).
#define BOOST_TEST_MODULE noise
#include <boost/test/unit_test.hpp>
