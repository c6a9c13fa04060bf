// vauchi-relay: parse the configuration, run the supervisor, map the outcome
// to a documented exit code (common/exit_codes.hpp). Everything else lives in
// the libraries so that tests link it.

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "common/exit_codes.hpp"
#include "common/log.hpp"
#include "supervisor/config_loader.hpp"
#include "supervisor/store_bootstrap.hpp"
#include "supervisor/store_transfer.hpp"
#include "supervisor/supervisor.hpp"

int main(int argc, char** argv)
{
    using namespace relay;
    try {
        auto loaded = supervisor::load_config(argc, argv, supervisor::process_environment());
        if (!loaded.cfg) {
            std::fputs(loaded.print.c_str(), stdout);
            return exit_code::ok;
        }
        std::string const& lvl = loaded.cfg->log_level;
        log::set_min_level(lvl == "debug"       ? log::level::debug
                               : lvl == "warn"  ? log::level::warn
                               : lvl == "error" ? log::level::error
                                                : log::level::info);
        for (auto const& warning : loaded.warnings)
            RELAY_LOG_WARN("%s", warning.c_str());
        if (loaded.cfg->check_store_only)
            return supervisor::check_store(*loaded.cfg);
        if (!loaded.cfg->export_path.empty())
            return supervisor::export_store(*loaded.cfg, loaded.cfg->export_path);
        if (!loaded.cfg->import_path.empty())
            return supervisor::import_store(*loaded.cfg, loaded.cfg->import_path);
        supervisor::supervisor sup(*loaded.cfg, std::vector<std::string>(argv, argv + argc));
        return sup.run();
    } catch (supervisor::config_error const& e) {
        std::fprintf(stderr, "vauchi-relay: configuration error: %s\n", e.what());
        return exit_code::config_error;
    } catch (std::exception const& e) {
        std::fprintf(stderr, "vauchi-relay: fatal: %s\n", e.what());
        return exit_code::fatal;
    } catch (...) {
        std::fprintf(stderr, "vauchi-relay: fatal: unknown error\n");
        return exit_code::fatal;
    }
}
