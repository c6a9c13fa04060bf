// Cleaning the store up after a child died, in a process of its own.
//
// The cleanup takes store locks: the dead worker's shard reservation, the
// presence table, every notification ring. A live child can hold any of
// them, and a stopped one (SIGSTOP, a debugger, a stuck page fault) holds it
// for as long as it is stopped. Were the supervisor to take them itself, its
// loop would block there: no signals read, no watchdog fed, and no stall
// detection to kill the stopped child. So the supervisor takes no store lock
// after start-up; it forks a repair process and goes on, and respawns the
// dead child when the repair has finished (docs/architecture.md#liveness).

#include <signal.h>
#include <unistd.h>

#include <cstring>

#include "common/exit_codes.hpp"
#include "common/log.hpp"
#include "shm/notify_ring.hpp"
#include "shm/shard.hpp"
#include "shm/store.hpp"
#include "supervisor/supervisor.hpp"

namespace relay::supervisor {

void supervisor::start_repair(child& c)
{
    pid_t const pid = ::fork();
    if (pid < 0) {
        // Without a repair the dead child's leftovers stay until the next
        // one; the full rebuild of an escalation is the safe way out.
        RELAY_LOG_ERROR("fork of the repair process failed (%s): rebuilding the whole store instead",
                        std::strerror(errno));
        c.death.repair_failed = true;
        after_repair(c);
        return;
    }
    if (pid > 0) {
        c.repair_pid = pid;
        return;
    }
    leave_supervisor_after_fork();
    for (int fd : listen_fds_)
        if (fd >= 0)
            ::close(fd);
    log::set_role("repair " + child_name(c));
    shm::store st(segment_.base());
    std::uint64_t const unprovable_before = shm::unprovable_repairs_seen();
    if (c.kind == role::worker) {
        // Clean the dead slot before anything else can use it: its presence
        // entries would swallow live pushes, its connection count would eat
        // into RELAY_MAX_CONNECTIONS, its ring holds notifications for nobody.
        // reset_slot() takes the lock of the shard holding the dead worker's
        // reservation (and the presence lock), repairing them if it died
        // holding them; any other shard lock it held is repaired by the next
        // process to take it (shard_guard). recover_all() repairs the rings it
        // may have been posting to.
        st.reset_slot(c.slot);
        shm::notify_rings rings(segment_.base(), st.header());
        rings.reset(c.slot);
        rings.recover_all();
        // A ring the dead worker held locked was wiped: its consumer catches
        // up at its next drain, which may have no other reason to come.
        wake_all_workers();
    } else {
        st.recover_shards(); // the cleanup process may have died inside a sweep
    }
    std::_Exit(shm::unprovable_repairs_seen() != unprovable_before ? exit_code::store_poisoned : exit_code::ok);
}

void supervisor::on_repair_exit(child& c, int status)
{
    c.repair_pid = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != exit_code::ok) {
        if (!stopping_)
            RELAY_LOG_ERROR("the repair after %s's death %s: rebuilding the whole store", child_name(c).c_str(),
                            WIFEXITED(status) && WEXITSTATUS(status) == exit_code::store_poisoned
                                ? "could not prove a shard consistent"
                                : "did not finish");
        c.death.repair_failed = true;
    }
    if (c.kind == role::worker) {
        shm::store st(segment_.base());
        st.slot(c.slot).pid.store(0);
        st.slot(c.slot).heartbeat_ms.store(0);
    }
    after_repair(c);
}

} // namespace relay::supervisor
