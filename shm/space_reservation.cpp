#include "shm/space_reservation.hpp"

#include <fcntl.h>
#include <sys/statvfs.h>

#include <cerrno>

namespace relay::shm {

bool reservation::unsupported() const noexcept { return error == EOPNOTSUPP || error == ENOSYS; }

reservation reserve_space(int fd, std::uint64_t size)
{
    reservation r;
    // fallocate(2) rather than posix_fallocate: where the filesystem cannot
    // allocate ahead, glibc's fallback writes every block, which would turn a
    // sparse 1 GiB store into 1 GiB of disk writes at every start.
    int rc;
    do
        rc = ::fallocate(fd, 0, 0, static_cast<off_t>(size));
    while (rc != 0 && errno == EINTR);
    if (rc != 0)
        r.error = errno;
    return r;
}

std::uint64_t available_bytes(std::string const& path)
{
    struct statvfs fs {};
    if (::statvfs(path.c_str(), &fs) != 0)
        return 0;
    return static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
}

} // namespace relay::shm
