#define BOOST_TEST_MODULE worker
#include <boost/test/unit_test.hpp>
