#define BOOST_TEST_MODULE shm
#include <boost/test/unit_test.hpp>
